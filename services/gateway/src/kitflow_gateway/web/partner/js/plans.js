// Plans and deliveries: the organisation's plan lines (what each need gets, from which plan and
// warehouse, and how far it went), and the form that records a distribution: the site and the
// items picked by name, the quantities handed out, the households and people reached (counted
// once per need), the day, and a note when more were reached than the need targeted.

import { formatDate, t } from "/web/shared/i18n.js";
import { api, ApiError, newKey } from "./api.js";
import { el } from "/web/shared/dom.js";
import { showFieldErrors } from "./field-errors.js";
import {
  dottedFields,
  foldingTable,
  itemsByCode,
  nameOfItem,
  number,
  ownNeeds,
  siteOf,
  statusBadge,
  useStyles,
  warehousesByCode,
} from "./track.js";

// Plans whose goods have left a warehouse: the ones a delivery can be recorded against.
const DELIVERABLE = new Set(["dispatching", "dispatched", "delivered"]);

function planStatusNames() {
  return {
    draft: t("partner.plans.status.draft"),
    reserving: t("partner.plans.status.reserving"),
    reserved: t("partner.plans.status.reserved"),
    "partly-reserved": t("partner.plans.status.partly-reserved"),
    dispatching: t("partner.plans.status.dispatching"),
    dispatched: t("partner.plans.status.dispatched"),
    delivered: t("partner.plans.status.delivered"),
    closed: t("partner.plans.status.closed"),
    cancelled: t("partner.plans.status.cancelled"),
  };
}

function lineStateNames() {
  return {
    "not-asked": t("partner.plans.reservation.not-asked"),
    pending: t("partner.plans.reservation.pending"),
    active: t("partner.plans.reservation.active"),
    rejected: t("partner.plans.reservation.rejected"),
    released: t("partner.plans.reservation.released"),
    expired: t("partner.plans.reservation.expired"),
    dispatched: t("partner.plans.reservation.dispatched"),
  };
}

function today() {
  return new Date().toISOString().slice(0, 10);
}

function warehouseName(warehouses, code) {
  const warehouse = warehouses.get(code);
  return warehouse ? `${warehouse.name} (${code})` : code;
}

function planCard(plan, ref) {
  const columns = [
    { label: t("partner.plans.site") },
    { label: t("partner.plans.item") },
    { label: t("partner.plans.warehouse") },
    { label: t("partner.plans.planned"), numeric: true },
    { label: t("partner.plans.reserved"), numeric: true },
    { label: t("partner.plans.dispatched"), numeric: true },
    { label: t("partner.plans.delivered"), numeric: true },
    { label: t("partner.plans.line_state") },
  ];
  const states = lineStateNames();
  const rows = plan.lines.map((line) => [
    ref.site(line.need_id),
    nameOfItem(ref.items, line.item_code),
    warehouseName(ref.warehouses, line.warehouse),
    number(line.quantity),
    number(line.reserved),
    number(line.dispatched),
    number(line.delivered),
    states[line.reservation] || line.reservation,
  ]);
  const reached = plan.reached.map((r) => {
    const figures = {
      site: ref.site(r.need_id),
      households: number(r.households),
      individuals: number(r.individuals),
      date: formatDate(r.delivered_on),
    };
    const text = r.delivered_on
      ? t("partner.plans.reached_on", figures)
      : t("partner.plans.reached", figures);
    return el("li", { text });
  });
  return el("article", { className: "card plan", attrs: { "data-plan": plan.plan_id } }, [
    el("h3", { text: plan.title }),
    el("p", { className: "meta" }, [statusBadge(planStatusNames(), plan.status)]),
    foldingTable(t("partner.plans.lines"), columns, rows),
    reached.length ? el("ul", { className: "plain" }, reached) : "",
  ]);
}

// One choice per (plan, need) with goods on the way or delivered: "Sévaré 2 — plan title".
function deliveryChoices(plans, ref) {
  const choices = [];
  for (const plan of plans.filter((p) => DELIVERABLE.has(p.status))) {
    for (const needId of new Set(plan.lines.map((x) => x.need_id))) {
      const lines = plan.lines.filter((x) => x.need_id === needId && x.dispatched > 0);
      if (lines.length) {
        choices.push({ plan, needId, lines, label: `${ref.site(needId)} — ${plan.title}` });
      }
    }
  }
  return choices;
}

function field(id, label, attrs, name) {
  return [
    el("label", { text: label, attrs: { for: id } }),
    el("input", { attrs: { id, name: id, "data-field": name, ...attrs } }),
  ];
}

function linesFieldset(choice, ref) {
  const inputs = choice.lines.map((line, index) => {
    const left = Math.max(0, line.dispatched - line.delivered);
    const id = `delivery-line-${index}`;
    return el("div", {}, [
      el("label", {
        text: t("partner.plans.form.line", {
          item: nameOfItem(ref.items, line.item_code),
          warehouse: warehouseName(ref.warehouses, line.warehouse),
        }),
        attrs: { for: id },
      }),
      el("p", {
        className: "hint",
        attrs: { id: `${id}-hint` },
        text: t("partner.plans.form.line_hint", {
          dispatched: number(line.dispatched),
          delivered: number(line.delivered),
        }),
      }),
      el("input", {
        attrs: {
          id,
          type: "number",
          inputmode: "numeric",
          min: 0,
          max: left,
          value: left,
          "data-line": line.line_id,
          "data-field": `deliveries.0.lines.${index}.quantity`,
          "aria-describedby": `${id}-hint`,
        },
      }),
    ]);
  });
  return el("fieldset", { attrs: { "data-field": "deliveries.0.lines" } }, [
    el("legend", { text: t("partner.plans.form.items") }),
    ...inputs,
  ]);
}

function targetHint(need) {
  if (!need) return "";
  return t("partner.plans.form.target", {
    households: number(need.population.households),
    individuals: number(need.population.individuals),
    reached_households: number(need.households_reached),
    reached_individuals: number(need.individuals_reached),
  });
}

function deliveryForm(choices, ref, context, reload) {
  const section = el("section", { className: "card", attrs: { "aria-labelledby": "delivery-title" } }, [
    el("h2", { text: t("partner.plans.form.title"), attrs: { id: "delivery-title" } }),
  ]);
  if (!choices.length) {
    section.append(el("p", { className: "hint", text: t("partner.plans.form.nothing") }));
    return section;
  }
  const picker = el(
    "select",
    { attrs: { id: "delivery-choice", name: "choice" } },
    choices.map((c, index) => el("option", { text: c.label, attrs: { value: index } })),
  );
  const details = el("div");
  const done = el("p", { className: "done", attrs: { role: "status" } });
  let key = newKey();
  const form = el("form", { attrs: { novalidate: true } }, [
    el("label", { text: t("partner.plans.form.choice"), attrs: { for: "delivery-choice" } }),
    picker,
    details,
    el("button", { text: t("partner.plans.form.submit"), attrs: { type: "submit" } }),
    done,
  ]);
  const fill = () => {
    const choice = choices[Number(picker.value)];
    const need = ref.needs.get(choice.needId);
    details.replaceChildren(
      linesFieldset(choice, ref),
      el("p", { className: "hint", attrs: { id: "delivery-target" }, text: targetHint(need) }),
      el("div", { className: "row" }, [
        el("div", {}, field("delivery-households", t("partner.plans.form.households"), { type: "number", inputmode: "numeric", min: 0, required: true, "aria-describedby": "delivery-target" }, "deliveries.0.households")),
        el("div", {}, field("delivery-individuals", t("partner.plans.form.individuals"), { type: "number", inputmode: "numeric", min: 0, required: true }, "deliveries.0.individuals")),
      ]),
      ...field("delivery-date", t("partner.plans.form.date"), { type: "date", max: today(), value: today(), required: true }, "deliveries.0.delivered_on"),
      el("label", { text: t("partner.plans.form.note"), attrs: { for: "delivery-note" } }),
      el("p", { className: "hint", attrs: { id: "delivery-note-hint" }, text: t("partner.plans.form.note_hint") }),
      el("textarea", { attrs: { id: "delivery-note", rows: 3, maxlength: 500, "data-field": "deliveries.0.note", "aria-describedby": "delivery-note-hint" } }),
    );
    key = newKey();
  };
  picker.addEventListener("change", fill);
  fill();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    done.textContent = "";
    const choice = choices[Number(picker.value)];
    const lines = [...form.querySelectorAll("input[data-line]")]
      .map((input) => ({ line_id: input.dataset.line, quantity: Number(input.value || 0) }))
      .filter((line) => line.quantity > 0);
    const note = form.querySelector("#delivery-note").value.trim();
    const delivery = {
      need_id: choice.needId,
      lines,
      households: Number(form.querySelector("#delivery-households").value || 0),
      individuals: Number(form.querySelector("#delivery-individuals").value || 0),
      delivered_on: form.querySelector("#delivery-date").value || null,
      ...(note ? { note } : {}),
    };
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      // The same key while the same delivery is retried: recorded once, however often sent.
      await api(`/v1/plans/${encodeURIComponent(choice.plan.plan_id)}/deliveries`, {
        method: "POST",
        body: { deliveries: [delivery] },
        key,
      });
      key = newKey();
      showFieldErrors(form, {});
      context.showError(null);
      await reload(t("partner.plans.form.recorded", { site: ref.site(choice.needId) }));
    } catch (error) {
      if (error instanceof ApiError) {
        key = newKey();
        const unclaimed = showFieldErrors(form, dottedFields(error.fields));
        // A refusal about the form's fields is said next to them (in the page's language);
        // the box at the top says what no field claimed.
        const fields = Object.keys(error.fields).length;
        context.showError(
          unclaimed.length || !fields ? [error.message, ...unclaimed].join(" ") : t("partner.plans.form.see_fields"),
        );
      } else {
        context.showProblem(error);
      }
    } finally {
      button.disabled = false;
    }
  });
  section.append(form);
  return section;
}

export async function render(container, context, recorded = "") {
  useStyles();
  const [page, needsPage, items, warehouses] = await Promise.all([
    api("/v1/plans?limit=200"),
    ownNeeds(),
    itemsByCode(),
    warehousesByCode(),
  ]);
  const needs = new Map(needsPage.items.map((n) => [n.id, n]));
  const ref = {
    items,
    warehouses,
    needs,
    site: (needId) => (needs.has(needId) ? siteOf(needs.get(needId)) : needId),
  };
  const reload = async (message) => {
    container.replaceChildren();
    await render(container, context, message);
  };
  const plans = page.items;
  container.append(
    el("p", { className: "hint", text: t("partner.plans.intro") }),
    recorded ? el("p", { className: "done", attrs: { role: "status" }, text: recorded }) : "",
    deliveryForm(deliveryChoices(plans, ref), ref, context, reload),
    el("h2", { text: t("partner.plans.list_title") }),
    plans.length
      ? el("div", { attrs: { id: "plans-list" } }, plans.map((plan) => planCard(plan, ref)))
      : el("p", { className: "hint", text: t("partner.plans.none") }),
  );
}
