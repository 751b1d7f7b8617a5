// Choosing needs for a plan: a list of the needs open for planning, filtered on the server
// (place, severity, partner, status, item, age) and paged, with "select all" of the filtered
// needs; the selection drafts a plan (POST /v1/plans with its need ids).

import { formatDate, formatNumber, t } from "/web/shared/i18n.js";
import { api, keyedAction } from "./api.js";
import { el } from "/web/shared/dom.js";
import { nameOfItem, nameOfPlace, reference } from "./reference.js";

const PAGE_SIZE = 20;
const FETCH_SIZE = 500;
// What POST /v1/plans takes at most in need_ids (distribution's MAX_PLAN_LINES).
const MAX_SELECTED = 10_000;
const PLANNABLE = ["validated", "partially-covered"];
const DAY_MS = 86_400_000;
const AGES = { "": null, week: 7, month: 30, older: -30 };

const state = { offset: 0, total: 0, page: [], selected: new Set(), partners: new Set() };
let root = null;
let onDrafted = () => {};
let report = () => {};

function field(id, label, control) {
  control.id = id;
  return el("div", { className: "field" }, [
    el("label", { text: label, attrs: { for: id } }),
    control,
  ]);
}

function select(name, options) {
  const node = el("select", { attrs: { name } });
  node.append(...options.map(([value, text]) => el("option", { text, attrs: { value } })));
  return node;
}

function filtersForm(ref) {
  const any = ["", t("needs.filter.any")];
  const form = el("form", { className: "filters", attrs: { id: "need-filters" } }, [
    field("need-region", t("needs.filter.region"),
      select("admin1_pcode", [any, ...ref.regions])),
    field("need-cercle", t("needs.filter.cercle"), select("admin2_pcode", [any])),
    field("need-severity", t("needs.filter.severity"), select("min_severity", [
      any, ...[5, 4, 3, 2].map((s) => [String(s), t("needs.severity_at_least", { severity: s })]),
    ])),
    field("need-partner", t("needs.filter.partner"),
      el("input", { attrs: { name: "partner", type: "text", list: "need-partners",
        maxlength: "64", autocomplete: "off" } })),
    el("datalist", { attrs: { id: "need-partners" } }),
    field("need-status", t("needs.filter.status"), select("status", [
      ["", t("needs.status.plannable")],
      ["validated", t("needs.status.validated")],
      ["partially-covered", t("needs.status.partially-covered")],
    ])),
    field("need-item", t("needs.filter.item"), select("item_code", [
      any,
      ...[...ref.items.values()]
        .map((x) => [x.code, nameOfItem(ref, x.code)])
        .sort((a, b) => a[1].localeCompare(b[1])),
    ])),
    field("need-age", t("needs.filter.age"), select("age", [
      ["", t("needs.age.any")], ["week", t("needs.age.week")], ["month", t("needs.age.month")],
      ["older", t("needs.age.older")],
    ])),
    el("button", { text: t("needs.filter.apply"), attrs: { type: "submit" } }),
  ]);
  const region = form.elements.admin1_pcode;
  region.addEventListener("change", () => {
    const cercles = [...ref.cercles].filter(([, c]) => c.admin1 === region.value);
    form.elements.admin2_pcode.replaceChildren(
      el("option", { text: t("needs.filter.any"), attrs: { value: "" } }),
      ...cercles.map(([pcode, c]) => el("option", { text: c.name, attrs: { value: pcode } })),
    );
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.offset = 0;
    state.selected.clear();
    refresh().catch(report);
  });
  return form;
}

function queryOf(form, offset, limit) {
  const query = new URLSearchParams({ limit: String(limit), offset: String(offset) });
  const f = form.elements;
  for (const status of f.status.value ? [f.status.value] : PLANNABLE) {
    query.append("status", status);
  }
  for (const name of ["admin1_pcode", "admin2_pcode", "min_severity", "item_code"]) {
    if (f[name].value) query.set(name, f[name].value);
  }
  const partner = f.partner.value.trim().toUpperCase();
  if (partner) query.set("partner", partner);
  const days = AGES[f.age.value];
  if (days) {
    const since = new Date(Date.now() - Math.abs(days) * DAY_MS).toISOString();
    query.set(days > 0 ? "created_after" : "created_before", since);
  }
  return query;
}

function itemsText(ref, need) {
  return need.items
    .filter((x) => x.remaining > 0)
    .map((x) => `${formatNumber(x.remaining)} ${nameOfItem(ref, x.item_code)}`)
    .join(", ");
}

function checkbox(need) {
  const box = el("input", { attrs: { type: "checkbox", "data-need-id": need.id,
    "aria-label": t("needs.select_one", { site: need.location.site_name || need.id }) } });
  box.checked = state.selected.has(need.id);
  box.addEventListener("change", () => {
    if (box.checked) state.selected.add(need.id);
    else state.selected.delete(need.id);
    showSelection();
  });
  return box;
}

function needRow(ref, need) {
  const place = need.location;
  return el("tr", { attrs: { "data-need-id": need.id } }, [
    el("td", {}, [checkbox(need)]),
    el("td", { text: place.site_name || "—" }),
    el("td", { text:
      `${nameOfPlace(ref, place.admin2_pcode)}, ${nameOfPlace(ref, place.admin1_pcode)}` }),
    el("td", { text: need.organisation }),
    el("td", { text: String(need.severity), className: "number" }),
    el("td", { text: itemsText(ref, need) }),
    el("td", { text: formatDate(need.created_at) }),
  ]);
}

function showSelection() {
  const count = state.selected.size;
  root.querySelector("#need-selected").textContent = t("needs.selected", { count });
  root.querySelector("#draft-submit").disabled = count === 0;
  const all = root.querySelector("#need-select-all");
  all.checked = count > 0 && count === Math.min(state.total, MAX_SELECTED);
  all.indeterminate = count > 0 && !all.checked;
}

async function refresh() {
  const ref = await reference();
  const form = root.querySelector("#need-filters");
  const page = await api(`/v1/needs?${queryOf(form, state.offset, PAGE_SIZE)}`);
  state.page = page.items;
  state.total = page.total;
  for (const need of page.items) state.partners.add(need.organisation);
  root.querySelector("#need-partners").replaceChildren(
    ...[...state.partners].sort().map((p) => el("option", { attrs: { value: p } })),
  );
  const body = root.querySelector("#need-list tbody");
  body.replaceChildren(...page.items.map((need) => needRow(ref, need)));
  if (!page.items.length) {
    body.append(el("tr", {}, [el("td", { text: t("needs.none"), className: "empty",
      attrs: { colspan: "7" } })]));
  }
  const last = Math.min(state.offset + page.items.length, page.total);
  root.querySelector("#need-range").textContent = t("needs.range", {
    first: page.total ? state.offset + 1 : 0, last, total: page.total });
  root.querySelector("#need-previous").disabled = state.offset === 0;
  root.querySelector("#need-next").disabled = last >= page.total;
  showSelection();
}

// Every filtered need, however many pages: the ids only are kept.
async function selectAllFiltered(checked) {
  state.selected.clear();
  if (checked) {
    const form = root.querySelector("#need-filters");
    for (let offset = 0; offset < Math.min(state.total, MAX_SELECTED); offset += FETCH_SIZE) {
      const page = await api(`/v1/needs?${queryOf(form, offset, FETCH_SIZE)}`);
      for (const need of page.items) {
        if (state.selected.size < MAX_SELECTED) state.selected.add(need.id);
      }
      if (page.items.length < FETCH_SIZE) break;
    }
  }
  for (const box of root.querySelectorAll("#need-list tbody input[type=checkbox]")) {
    box.checked = state.selected.has(box.dataset.needId);
  }
  showSelection();
}

function draftForm() {
  const drafting = keyedAction();
  const form = el("form", { className: "draft", attrs: { id: "draft-form" } }, [
    field("plan-title", t("plan.draft.title"),
      el("input", { attrs: { name: "title", type: "text", maxlength: "200", required: "" } })),
    el("p", { attrs: { id: "need-selected", "aria-live": "polite" } }),
    el("button", { text: t("plan.draft.submit"), attrs: { id: "draft-submit", type: "submit" } }),
  ]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const body = { title: form.elements.title.value.trim(), need_ids: [...state.selected] };
      const plan = await api("/v1/plans", { method: "POST", body,
        key: drafting.keyFor("/v1/plans", body) });
      drafting.done();
      report(null);
      form.reset();
      state.selected.clear();
      await onDrafted(plan);
      await refresh();
    } catch (error) {
      report(error);
    } finally {
      showSelection();
    }
  });
  return form;
}

function table() {
  const all = el("input", { attrs: { type: "checkbox", id: "need-select-all",
    "aria-label": t("needs.select_all") } });
  all.addEventListener("change", () => selectAllFiltered(all.checked).catch(report));
  const heads = [t("needs.col.site"), t("needs.col.place"), t("needs.col.partner"),
    t("needs.col.severity"),
    t("needs.col.remaining"), t("needs.col.reported")];
  return el("div", { className: "table-wrap" }, [
    el("table", { attrs: { id: "need-list" } }, [
      el("caption", { text: t("needs.caption") }),
      el("thead", {}, [el("tr", {}, [
        el("th", { attrs: { scope: "col" } }, [all]),
        ...heads.map((text) => el("th", { text, attrs: { scope: "col" } })),
      ])]),
      el("tbody"),
    ]),
  ]);
}

function pager() {
  const previous = el("button", { text: t("needs.previous"),
    attrs: { type: "button", id: "need-previous" } });
  const next = el("button", { text: t("needs.next"), attrs: { type: "button", id: "need-next" } });
  previous.addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    refresh().catch(report);
  });
  next.addEventListener("click", () => {
    state.offset += PAGE_SIZE;
    refresh().catch(report);
  });
  return el("div", { className: "pager" }, [
    previous, el("span", { attrs: { id: "need-range", "aria-live": "polite" } }), next,
  ]);
}

// Draws the picker into `container` (again on a language change) and lists the first page.
export async function showNeedPicker(container, { drafted, reportError }) {
  onDrafted = drafted;
  report = reportError;
  const ref = await reference();
  root = el("details", { className: "card picker", attrs: { id: "need-picker", open: "" } }, [
    el("summary", {}, [el("h3", { text: t("plan.draft.heading") })]),
    el("p", { text: t("needs.hint"), className: "hint" }),
    filtersForm(ref),
    table(),
    pager(),
    draftForm(),
  ]);
  container.replaceChildren(root);
  await refresh();
}
