// Report a need: the place from the gazetteer, the population, the assessment, and either item
// lines or a norms profile whose calculation the needs service previews line by line before
// anything is saved; saved as a draft or submitted, and the organisation's drafts submitted
// later. Refusals are shown next to their fields, in the user's language (the service's own).

import { formatDate, formatNumber, t } from "/web/shared/i18n.js";
import { api, ApiError, newKey } from "./api.js";
import { el } from "/web/shared/dom.js";
import { showFieldErrors } from "./field-errors.js";
import { placesOf, search } from "./places.js";

const state = {
  reference: null, // { gazetteer, places, profiles, items }, read once per sign-in
  preview: null, // { request: JSON of what was previewed, result }
  action: null, // { request, key }: a retry of the same save sends the same Idempotency-Key
  drafts: [],
};

// ---- labels ----------------------------------------------------------------------------------

const BASES = {
  households: () => t("partner.basis.households"),
  individuals: () => t("partner.basis.individuals"),
  women: () => t("partner.basis.women"),
  men: () => t("partner.basis.men"),
  girls: () => t("partner.basis.girls"),
  boys: () => t("partner.basis.boys"),
  elderly: () => t("partner.basis.elderly"),
  disabled: () => t("partner.basis.disabled"),
};

function basisName(basis) {
  return (BASES[basis] || (() => basis))();
}

// A label whose text follows the language (the translation module relabels data-i18n).
function labelFor(id, key) {
  return el("label", { text: t(key), attrs: { for: id, "data-i18n": key } });
}

function option(value, key) {
  return el("option", { text: t(key), attrs: { value, "data-i18n": key } });
}

function input(id, field, attrs = {}) {
  return el("input", { attrs: { id, name: id, "data-field": field, ...attrs } });
}

function number(id, field, attrs = {}) {
  return input(id, field, { type: "number", inputmode: "numeric", min: "0", step: "1", ...attrs });
}

function hint(key, attrs = {}) {
  return el("p", { text: t(key), className: "hint", attrs: { "data-i18n": key, ...attrs } });
}

// ---- reference data --------------------------------------------------------------------------

async function loadReference() {
  if (!state.reference) {
    const [gazetteer, profiles, items] = await Promise.all([
      api("/v1/reference/gazetteer"),
      api("/v1/norms-profiles"),
      api("/v1/reference/items"),
    ]);
    state.reference = { gazetteer, places: placesOf(gazetteer), profiles, items };
  }
  return state.reference;
}

// ---- the form --------------------------------------------------------------------------------

function placeFieldset(reference) {
  const { gazetteer } = reference;
  const region = el("select", { attrs: { id: "admin1", "data-field": "location.admin1_pcode" } }, [
    option("", "partner.report.choose"),
    ...gazetteer.admin1.map((a) => el("option", { text: `${a.name} (${a.pcode})`, attrs: { value: a.pcode } })),
  ]);
  const cercle = el("select", { attrs: { id: "admin2", "data-field": "location.admin2_pcode" } });
  const cercleCode = input("admin2-code", "", { autocapitalize: "characters", hidden: true, placeholder: "ML0101" });
  const results = el("ul", { className: "plain places", attrs: { id: "place-results" } });
  const found = el("p", { className: "hint", attrs: { id: "place-found", role: "status" } });
  const searchBox = input("place-search", "", {
    type: "search",
    autocomplete: "off",
    "aria-describedby": "place-search-hint",
    "aria-controls": "place-results",
  });
  searchBox.addEventListener("input", () => showMatches(reference, searchBox.value));
  region.addEventListener("change", () => fillCercles(reference, region.value));
  cercle.addEventListener("change", showChosen);
  cercleCode.addEventListener("input", showChosen);
  return el("fieldset", {}, [
    el("legend", { text: t("partner.report.place"), attrs: { "data-i18n": "partner.report.place" } }),
    labelFor("place-search", "partner.report.search"),
    searchBox,
    hint("partner.report.search_hint", { id: "place-search-hint" }),
    found,
    results,
    labelFor("admin1", "partner.report.region"),
    region,
    labelFor("admin2", "partner.report.cercle"),
    cercle,
    el("label", {
      text: t("partner.report.cercle_code"),
      attrs: { for: "admin2-code", "data-i18n": "partner.report.cercle_code", id: "admin2-code-label", hidden: true },
    }),
    cercleCode,
    labelFor("admin3", "partner.report.commune"),
    input("admin3", "location.admin3_pcode", { autocapitalize: "characters", "aria-describedby": "admin3-hint" }),
    hint("partner.report.commune_hint", { id: "admin3-hint" }),
    labelFor("site", "partner.report.site"),
    input("site", "location.site_name", { maxlength: "200" }),
    el("p", { className: "hint", attrs: { id: "place-chosen", "aria-live": "polite" } }),
  ]);
}

function fillCercles(reference, regionCode, chosen = "") {
  const cercles = reference.gazetteer.admin2.filter((a) => a.parent === regionCode);
  const select = document.getElementById("admin2");
  const code = document.getElementById("admin2-code");
  const listed = cercles.length > 0 || !regionCode;
  select.replaceChildren(
    option("", "partner.report.choose"),
    ...cercles.map((a) => el("option", { text: `${a.name} (${a.pcode})`, attrs: { value: a.pcode } })),
  );
  select.value = chosen;
  // A region whose cercles the gazetteer does not list: the cercle's P-code is typed (and the
  // service accepts it by its form, marked unverified).
  select.hidden = !listed;
  document.querySelector("label[for='admin2']").hidden = !listed;
  code.hidden = listed;
  document.getElementById("admin2-code-label").hidden = listed;
  select.dataset.field = listed ? "location.admin2_pcode" : "";
  code.dataset.field = listed ? "" : "location.admin2_pcode";
  if (!listed) {
    code.value = chosen || regionCode;
  }
  showChosen();
}

function showMatches(reference, typed) {
  const matches = search(reference.places, typed);
  const list = document.getElementById("place-results");
  list.replaceChildren(
    ...matches.map((place) => {
      const label =
        place.level === 1
          ? t("partner.report.match_region", { name: place.name, pcode: place.pcode })
          : t("partner.report.match_cercle", {
              name: place.name,
              pcode: place.pcode,
              region: place.region?.name || place.parent,
            });
      const button = el("button", { text: label, className: "secondary", attrs: { type: "button" } });
      button.addEventListener("click", () => choosePlace(reference, place));
      return el("li", {}, [button]);
    }),
  );
  document.getElementById("place-found").textContent =
    typed.trim().length < 2 ? "" : t("partner.report.matches", { count: matches.length });
}

function choosePlace(reference, place) {
  const region = place.level === 1 ? place.pcode : place.parent;
  document.getElementById("admin1").value = region;
  fillCercles(reference, region, place.level === 2 ? place.pcode : "");
  document.getElementById("place-results").replaceChildren();
  document.getElementById("place-found").textContent = "";
  document.getElementById("place-search").value = "";
  document.getElementById(place.level === 2 ? "admin3" : "admin2").focus();
}

function showChosen() {
  const { admin1_pcode: region, admin2_pcode: cercle } = collectLocation();
  const line = document.getElementById("place-chosen");
  line.textContent = region && cercle ? t("partner.report.chosen", { region, cercle }) : "";
}

function populationFieldset() {
  return el("fieldset", {}, [
    el("legend", { text: t("partner.report.population"), attrs: { "data-i18n": "partner.report.population" } }),
    el("div", { className: "row" }, [
      el("div", {}, [labelFor("households", "partner.report.households"), number("households", "population.households")]),
      el("div", {}, [labelFor("individuals", "partner.report.individuals"), number("individuals", "population.individuals")]),
    ]),
    labelFor("women", "partner.report.women"),
    number("women", "population.women", { "aria-describedby": "women-hint" }),
    hint("partner.report.women_hint", { id: "women-hint" }),
    labelFor("displacement", "partner.report.displacement"),
    el("select", { attrs: { id: "displacement", "data-field": "displacement_status" } }, [
      option("", "partner.report.choose"),
      option("idp", "partner.report.idp"),
      option("returnee", "partner.report.returnee"),
      option("host-community", "partner.report.host"),
    ]),
  ]);
}

function assessmentFieldset() {
  return el("fieldset", {}, [
    el("legend", { text: t("partner.report.assessment"), attrs: { "data-i18n": "partner.report.assessment" } }),
    el("div", { className: "row" }, [
      el("div", {}, [
        labelFor("source", "partner.report.source"),
        el("select", { attrs: { id: "source", "data-field": "assessment.source" } }, [
          option("partner-assessment", "partner.report.source_partner"),
          option("dtm-round", "partner.report.source_dtm"),
        ]),
      ]),
      el("div", {}, [
        labelFor("assessed", "partner.report.assessed"),
        input("assessed", "assessment.date", { type: "date" }),
      ]),
    ]),
    labelFor("reference", "partner.report.reference"),
    input("reference", "assessment.reference", { maxlength: "200" }),
    labelFor("severity", "partner.report.severity"),
    el("select", { attrs: { id: "severity", "data-field": "severity", "aria-describedby": "severity-hint" } }, [
      option("", "partner.report.choose"),
      ...[1, 2, 3, 4, 5].map((n) => el("option", { text: String(n), attrs: { value: String(n) } })),
    ]),
    hint("partner.report.severity_hint", { id: "severity-hint" }),
  ]);
}

function itemsFieldset(reference) {
  const choice = (value, key, checked) =>
    el("label", { className: "choice" }, [
      el("input", { attrs: { type: "radio", name: "quantities", value, checked } }),
      el("span", { text: t(key), attrs: { "data-i18n": key } }),
    ]);
  const profile = el("select", { attrs: { id: "profile", "data-field": "norms.profile_id" } },
    reference.profiles.map((p) => el("option", { text: p.name, attrs: { value: p.profile_id } })));
  profile.addEventListener("change", () => showRules(reference));
  const preview = el("button", {
    text: t("partner.report.preview"),
    className: "secondary",
    attrs: { type: "button", id: "preview", "data-i18n": "partner.report.preview" },
  });
  preview.addEventListener("click", () => runPreview());
  const addLine = el("button", {
    text: t("partner.report.add_line"),
    className: "secondary",
    attrs: { type: "button", "data-i18n": "partner.report.add_line" },
  });
  addLine.addEventListener("click", () => addItemLine(reference));
  const fieldset = el("fieldset", { attrs: { "data-field": "items" } }, [
    el("legend", { text: t("partner.report.quantities"), attrs: { "data-i18n": "partner.report.quantities" } }),
    choice("norms", "partner.report.by_norms", true),
    choice("items", "partner.report.by_items", false),
    el("div", { attrs: { id: "norms-part" } }, [
      labelFor("profile", "partner.report.profile"),
      profile,
      labelFor("duration", "partner.report.duration"),
      number("duration", "norms.duration_days", { min: "1", max: "366", "aria-describedby": "duration-hint" }),
      hint("partner.report.duration_hint", { id: "duration-hint" }),
      el("fieldset", { attrs: { id: "rules", "data-field": "norms.rules" } }),
      preview,
      el("div", { attrs: { id: "preview-result", "aria-live": "polite" } }),
    ]),
    el("div", { attrs: { id: "items-part", hidden: true } }, [
      el("ol", { attrs: { id: "item-lines" }, className: "plain" }),
      addLine,
    ]),
  ]);
  for (const radio of fieldset.querySelectorAll("input[name=quantities]")) {
    radio.addEventListener("change", showMode);
  }
  return fieldset;
}

function mode() {
  return document.querySelector("input[name=quantities]:checked")?.value || "norms";
}

function showMode() {
  document.getElementById("norms-part").hidden = mode() !== "norms";
  document.getElementById("items-part").hidden = mode() !== "items";
  if (mode() === "items" && !document.querySelector("#item-lines li")) {
    addItemLine(state.reference);
  }
}

function showRules(reference) {
  const profile = reference.profiles.find((p) => p.profile_id === document.getElementById("profile").value);
  const box = document.getElementById("rules");
  box.replaceChildren(
    el("legend", { text: t("partner.report.rules"), attrs: { "data-i18n": "partner.report.rules" } }),
    ...(profile?.rules || []).map((rule) =>
      el("label", { className: "choice" }, [
        el("input", { attrs: { type: "checkbox", name: "rule", value: rule.item_code, checked: true } }),
        el("span", { text: `${itemName(rule.item_code)} (${rule.item_code})` }),
      ]),
    ),
  );
  document.getElementById("duration").placeholder = profile ? String(profile.duration_days) : "";
  showPreview();
}

function itemName(code) {
  return state.reference?.items.find((i) => i.code === code)?.name || code;
}

function addItemLine(reference) {
  const list = document.getElementById("item-lines");
  const index = list.children.length;
  const item = el("select", { attrs: { id: `item-${index}`, "data-field": `items.${index}.item_code` } }, [
    option("", "partner.report.choose"),
    ...reference.items
      .filter((i) => i.kind !== "measure")
      .map((i) => el("option", { text: `${i.name} (${i.code})`, attrs: { value: i.code } })),
  ]);
  const quantity = number(`quantity-${index}`, `items.${index}.quantity`, { min: "1" });
  list.append(
    el("li", { className: "row" }, [
      el("div", {}, [labelFor(`item-${index}`, "partner.report.item"), item]),
      el("div", {}, [labelFor(`quantity-${index}`, "partner.report.quantity"), quantity]),
    ]),
  );
}

// ---- what the form holds ---------------------------------------------------------------------

function value(id) {
  const node = document.getElementById(id);
  return node && !node.hidden ? node.value.trim() : "";
}

// An empty number is left out, so the service names it as missing; anything else is sent as
// typed, so the service's own bounds answer it.
function count(id) {
  const text = value(id);
  return text === "" ? undefined : Number(text);
}

function collectLocation() {
  const admin2 = value("admin2") || value("admin2-code").toUpperCase();
  return {
    admin1_pcode: value("admin1"),
    admin2_pcode: admin2,
    admin3_pcode: value("admin3").toUpperCase() || undefined,
    site_name: value("site") || undefined,
  };
}

function collectPopulation() {
  return { households: count("households"), individuals: count("individuals"), women: count("women") };
}

function collectNorms() {
  const rules = [...document.querySelectorAll("#rules input[name=rule]")];
  const chosen = rules.filter((r) => r.checked).map((r) => r.value);
  return {
    profile_id: value("profile"),
    duration_days: count("duration"),
    // Every rule: left out, so the need follows the profile as it is.
    rules: chosen.length === rules.length ? undefined : chosen,
  };
}

function collectItems() {
  return [...document.querySelectorAll("#item-lines li")]
    .map((_, i) => ({ item_code: value(`item-${i}`), quantity: count(`quantity-${i}`) }))
    .filter((line) => line.item_code || line.quantity !== undefined);
}

function collect() {
  const body = {
    location: collectLocation(),
    population: collectPopulation(),
    displacement_status: value("displacement") || undefined,
    assessment: {
      date: value("assessed") || undefined,
      source: value("source"),
      reference: value("reference") || undefined,
    },
    severity: count("severity"),
    items: [],
  };
  if (mode() === "norms") {
    body.norms = collectNorms();
  } else {
    body.items = collectItems();
  }
  return body;
}

// ---- the norms preview -----------------------------------------------------------------------

function previewRequest() {
  const norms = collectNorms();
  return {
    profile: norms.profile_id,
    body: { population: collectPopulation(), duration_days: norms.duration_days, rules: norms.rules },
  };
}

function previewIsCurrent() {
  return state.preview && state.preview.request === JSON.stringify(previewRequest());
}

async function runPreview() {
  const form = document.getElementById("need-form");
  const request = previewRequest();
  try {
    const result = await api(`/v1/norms-profiles/${encodeURIComponent(request.profile)}/calculate`, {
      method: "POST",
      body: request.body,
    });
    state.preview = { request: JSON.stringify(request), result };
    showFieldErrors(form, {});
  } catch (error) {
    state.preview = null;
    if (!(error instanceof ApiError)) {
      throw error;
    }
    // The preview's fields are the need's own, under "population." and "norms.".
    const fields = Object.fromEntries(
      Object.entries(error.fields).map(([name, reason]) => [
        name.startsWith("population") ? name : `norms.${name}`,
        reason,
      ]),
    );
    showFieldErrors(form, fields);
  }
  showPreview();
}

// The service's formula in the reader's language, from the same inputs:
// ⌈640 people × 250 g per person × (30 d ÷ 30 d) ÷ 250 g per item⌉ = 640.
function formulaOf(line) {
  let text = `${formatNumber(line.basis_count)} ${basisName(line.basis)} × `;
  text += t("partner.report.per_basis", { amount: formatNumber(Number(line.amount)), unit: line.amount_unit });
  if (line.per_days) {
    text += ` × ${t("partner.report.days_ratio", { days: line.duration_days, per: line.per_days })}`;
  }
  text += ` ÷ ${t("partner.report.per_item", { amount: formatNumber(Number(line.content_per_item)), unit: line.amount_unit })}`;
  return `⌈${text}⌉ = ${formatNumber(line.quantity)}`;
}

function showPreview() {
  const box = document.getElementById("preview-result");
  if (!box) {
    return;
  }
  if (!state.preview || !previewIsCurrent()) {
    box.replaceChildren(
      state.preview ? hint("partner.report.preview_stale") : hint("partner.report.preview_first"),
    );
    return;
  }
  const { result } = state.preview;
  const rows = result.calculations.map((line) =>
    el("tr", { attrs: { "data-item": line.item_code } }, [
      el("th", { attrs: { scope: "row" } }, [
        el("span", { text: itemName(line.item_code) }),
        el("br"),
        el("code", { text: line.item_code }),
      ]),
      el("td", {}, [el("span", { text: formulaOf(line), className: "formula" })]),
      el("td", { text: formatNumber(line.quantity), className: "number quantity" }),
    ]),
  );
  const skipped = result.skipped.map((line) =>
    el("li", {
      text: t("partner.report.skipped", { item: `${itemName(line.item_code)} (${line.item_code})`, basis: basisName(line.basis) }),
    }),
  );
  box.replaceChildren(
    el("p", {
      className: "hint",
      text: t("partner.report.preview_of", { profile: result.profile_id, version: result.profile_version, days: result.duration_days }),
    }),
    el("div", { className: "scroll" }, [
      el("table", { attrs: { id: "preview-table" } }, [
        el("caption", { text: t("partner.report.preview_caption"), className: "visually-hidden" }),
        el("thead", {}, [
          el("tr", {}, [
            el("th", { text: t("partner.report.item"), attrs: { scope: "col" } }),
            el("th", { text: t("partner.report.formula"), attrs: { scope: "col" } }),
            el("th", { text: t("partner.report.quantity"), className: "number", attrs: { scope: "col" } }),
          ]),
        ]),
        el("tbody", {}, rows),
      ]),
    ]),
    skipped.length ? el("ul", { className: "skipped" }, skipped) : "",
  );
}

// ---- saving ----------------------------------------------------------------------------------

function keyFor(request) {
  const text = JSON.stringify(request);
  if (!state.action || state.action.request !== text) {
    state.action = { request: text, key: newKey() };
  }
  return state.action.key;
}

function say(message, { ok = false } = {}) {
  const line = document.getElementById("form-status");
  line.textContent = message;
  line.className = ok ? "ok" : "field-error";
}

async function save(submit, context) {
  const form = document.getElementById("need-form");
  const body = { ...collect(), submit };
  if (mode() === "norms" && !previewIsCurrent()) {
    // Nothing is saved unseen: the calculation is shown first, and saving again confirms it.
    await runPreview();
    say(t("partner.report.check_preview"));
    return;
  }
  try {
    const need = await api("/v1/needs", { method: "POST", body, key: keyFor(body) });
    state.action = null;
    showFieldErrors(form, {});
    const done = submit
      ? t("partner.report.submitted", { id: need.id })
      : t("partner.report.saved", { id: need.id });
    say(done, { ok: true });
    await showDrafts(context);
  } catch (error) {
    if (!(error instanceof ApiError)) {
      context.showProblem(error);
      return;
    }
    const unclaimed = showFieldErrors(form, error.fields);
    say(unclaimed.length ? unclaimed.join(" · ") : error.problem.title || error.message);
    form.querySelector("[aria-invalid=true]")?.focus();
  }
}

// ---- drafts ----------------------------------------------------------------------------------

async function showDrafts(context) {
  const page = await api("/v1/needs?status=draft&limit=100");
  state.drafts = page.items;
  drawDrafts(context);
}

function drawDrafts(context) {
  const list = document.getElementById("drafts");
  if (!list) {
    return;
  }
  if (!state.drafts.length) {
    list.replaceChildren(el("li", { text: t("partner.report.no_drafts"), className: "hint" }));
    return;
  }
  list.replaceChildren(
    ...state.drafts.map((need) => {
      const where = [need.location.site_name, need.location.admin2_name || need.location.admin2_pcode]
        .filter(Boolean)
        .join(", ");
      const button = el("button", {
        text: t("partner.report.submit_draft"),
        attrs: { type: "button", "aria-label": t("partner.report.submit_draft_of", { place: where }) },
      });
      const key = newKey();
      button.addEventListener("click", () => submitDraft(need, key, button, context));
      return el("li", { className: "card", attrs: { "data-need": need.id } }, [
        el("strong", { text: where }),
        el("p", {
          text: t("partner.report.draft_line", {
            households: formatNumber(need.population.households),
            individuals: formatNumber(need.population.individuals),
            date: formatDate(need.assessment.date),
            lines: need.items.length,
          }),
        }),
        button,
      ]);
    }),
  );
}

async function submitDraft(need, key, button, context) {
  button.disabled = true;
  try {
    await api(`/v1/needs/${encodeURIComponent(need.id)}/submit`, { method: "POST", key });
    say(t("partner.report.submitted", { id: need.id }), { ok: true });
    await showDrafts(context);
  } catch (error) {
    button.disabled = false;
    context.showProblem(error);
  }
}

// ---- the section -----------------------------------------------------------------------------

export async function render(container, context) {
  const reference = await loadReference();
  const form = el("form", { attrs: { id: "need-form", novalidate: true } }, [
    hint("partner.report.intro"),
    placeFieldset(reference),
    populationFieldset(),
    assessmentFieldset(),
    itemsFieldset(reference),
    el("p", { attrs: { id: "form-status", role: "status" } }),
    el("button", {
      text: t("partner.report.save_draft"),
      className: "secondary",
      attrs: { type: "button", id: "save-draft", "data-i18n": "partner.report.save_draft" },
    }),
    el("button", { text: t("partner.report.submit"), attrs: { type: "submit", "data-i18n": "partner.report.submit" } }),
  ]);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save(true, context);
  });
  form.querySelector("#save-draft").addEventListener("click", () => save(false, context));
  container.append(
    form,
    el("section", { attrs: { "aria-labelledby": "drafts-title" } }, [
      el("h2", { text: t("partner.report.drafts"), attrs: { id: "drafts-title", "data-i18n": "partner.report.drafts" } }),
      hint("partner.report.drafts_hint"),
      el("ul", { className: "plain", attrs: { id: "drafts" } }),
    ]),
  );
  fillCercles(reference, "");
  showRules(reference);
  await showDrafts(context);
}

// The language changed: the labels follow by themselves (data-i18n); what was drawn from data
// is drawn again, and what was typed stays.
export async function relabel(container, context) {
  showPreview();
  drawDrafts(context);
  showChosen();
  const typed = document.getElementById("place-search");
  if (typed?.value) {
    showMatches(state.reference, typed.value);
  }
}
