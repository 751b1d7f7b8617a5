// "Plans": choose needs and draft with the planner, read a plan summarised per need (site,
// partner, what it gets, what it lacks and why, what the greedy baseline would give), approve,
// dispatch, record deliveries by site and partner, and follow planned, dispatched and delivered
// apart. Details (lines per warehouse, households reached, the planner's objectives) are folded.

import { formatDateTime, formatNumber, onLanguageChange, t } from "/web/shared/i18n.js";
import { api, keyedAction } from "./api.js";
import { el } from "/web/shared/dom.js";
import { showNeedPicker } from "./plan-draft.js";
import { nameOfItem, nameOfPlace, nameOfWarehouse, reference } from "./reference.js";

// Statuses the plan leaves on its own once stock answers: worth polling for.
const IN_PROGRESS = new Set(["reserving", "dispatching"]);
const POLL_INTERVAL_MS = 1000;
const POLL_ATTEMPTS = 120;
// What the distribution service accepts: dispatch once reserved, deliveries once dispatched.
const DISPATCHABLE = new Set(["reserved", "partly-reserved"]);
const DELIVERABLE = new Set(["dispatching", "dispatched", "delivered"]);

// Labels by the API's names, each key looked up where it is named (no key built at run time).
const FIGURES = {
  planned: () => t("plan.figure.planned"),
  dispatched: () => t("plan.figure.dispatched"),
  delivered: () => t("plan.figure.delivered"),
  households: () => t("plan.figure.households"),
};
const MEASURES = {
  units_allocated: () => t("plan.compare.units_allocated"),
  needs_fully_covered: () => t("plan.compare.needs_fully_covered"),
  households_covered: () => t("plan.compare.households_covered"),
};
const STATUSES = {
  draft: () => t("plan.status.draft"),
  reserving: () => t("plan.status.reserving"),
  reserved: () => t("plan.status.reserved"),
  "partly-reserved": () => t("plan.status.partly-reserved"),
  dispatching: () => t("plan.status.dispatching"),
  dispatched: () => t("plan.status.dispatched"),
  delivered: () => t("plan.status.delivered"),
  closed: () => t("plan.status.closed"),
  cancelled: () => t("plan.status.cancelled"),
};

function statusName(status) {
  return STATUSES[status] ? STATUSES[status]() : status;
}

let shownPlan = null;
let pollTimer = null;
let report = () => {};
let built = false;

const byId = (id) => document.getElementById(id);

function cell(value, className) {
  return typeof value === "number"
    ? el("td", { text: formatNumber(value), className: `number ${className || ""}`.trim() })
    : el("td", { text: value ?? "", className });
}

// Texts come translated: every key is looked up where it is named.
function tableOf(id, caption, heads, rows, empty) {
  const body = el("tbody", {}, rows);
  if (!rows.length) {
    body.append(el("tr", {}, [el("td", { text: empty, className: "empty",
      attrs: { colspan: String(heads.length) } })]));
  }
  return el("div", { className: "table-wrap" }, [
    el("table", { attrs: { id } }, [
      el("caption", { text: caption }),
      el("thead", {}, [el("tr", {}, heads.map((text) =>
        el("th", { text, attrs: { scope: "col" } })))]),
      body,
    ]),
  ]);
}

function folded(id, summary, children) {
  return el("details", { className: "fold", attrs: { id } }, [
    el("summary", { text: summary }), ...children,
  ]);
}

function quantities(ref, byItem) {
  const parts = Object.entries(byItem)
    .filter(([, qty]) => qty > 0)
    .map(([item, qty]) => `${formatNumber(qty)} ${nameOfItem(ref, item)}`);
  return parts.length ? parts.join(", ") : "—";
}

function add(map, key, qty) {
  map[key] = (map[key] || 0) + qty;
}

// ---- the plan, per need ------------------------------------------------------------------------

// Per need: the planner's coverage (requested, allocated per item), the lines' progress, the
// greedy baseline, and where and whose the need is (kept in the draft's explanation).
function perNeed(plan) {
  const explanation = plan.explanation || {};
  const needs = new Map();
  const of = (needId) => {
    if (!needs.has(needId)) {
      needs.set(needId, { id: needId, requested: {}, planned: {}, dispatched: {}, delivered: {},
        lacks: {}, why: [], greedy: null, where: (explanation.needs || {})[needId] || null });
    }
    return needs.get(needId);
  };
  for (const coverage of explanation.coverage || []) {
    const need = of(coverage.need_id);
    need.partner = coverage.partner;
    for (const item of coverage.items) {
      add(need.requested, item.item, item.requested);
    }
  }
  for (const line of plan.lines) {
    const need = of(line.need_id);
    add(need.planned, line.item_code, line.quantity);
    add(need.dispatched, line.item_code, line.dispatched);
    add(need.delivered, line.item_code, line.delivered);
  }
  for (const shortfall of explanation.shortfalls || []) {
    const need = of(shortfall.need_id);
    add(need.lacks, shortfall.item, shortfall.quantity);
    need.why.push(shortfall.explanation);
  }
  const compared = explanation.greedy_comparison;
  if (compared) {
    // The baseline's quantities per need; a need it leaves out gets nothing from it.
    for (const need of needs.values()) need.greedy = {};
    for (const [needId, items] of Object.entries(compared.greedy_by_need || {})) {
      of(needId).greedy = items;
    }
  }
  return [...needs.values()].sort((a, b) => siteOf(a).localeCompare(siteOf(b)));
}

function siteOf(need) {
  return need.where?.site || need.id;
}

function placeOf(ref, need) {
  return need.where ? nameOfPlace(ref, need.where.admin2_pcode) : "";
}

function totals(plan) {
  const sum = { planned: 0, dispatched: 0, delivered: 0, households: 0 };
  for (const line of plan.lines) {
    sum.planned += line.quantity;
    sum.dispatched += line.dispatched;
    sum.delivered += line.delivered;
  }
  // Households are reached per need, once, however many of the plan's items they received.
  for (const reached of plan.reached || []) {
    sum.households += reached.households;
  }
  return sum;
}

function figures(plan) {
  const sum = totals(plan);
  const figure = (key, value) => el("div", { className: "figure", attrs: { "data-figure": key } },
    [el("span", { className: "figure-value", text: formatNumber(value) }),
      el("span", { className: "figure-label", text: FIGURES[key]() })]);
  return el("div", { className: "figures", attrs: { id: "plan-figures" } },
    Object.keys(FIGURES).map((key) => figure(key, sum[key])));
}

function summaryRows(ref, plan, needs) {
  const draft = plan.status === "draft";
  return needs.map((need) => {
    const lacks = el("td", { className: "lacks" }, [quantities(ref, need.lacks)]);
    if (need.why.length) {
      lacks.append(el("details", { className: "why" }, [
        el("summary", { text: t("plan.summary.why") }),
        ...need.why.map((sentence) => el("p", { text: sentence })),
      ]));
    }
    const cells = [
      el("th", { attrs: { scope: "row" } }, [
        el("span", { text: siteOf(need) }),
        el("span", { className: "place", text: placeOf(ref, need) }),
      ]),
      cell(need.partner || need.where?.partner || ""),
      cell(quantities(ref, need.planned)),
      lacks,
    ];
    if (draft) {
      cells.push(cell(need.greedy ? quantities(ref, need.greedy) : "—"));
    } else {
      cells.push(cell(quantities(ref, need.dispatched)), cell(quantities(ref, need.delivered)));
    }
    return el("tr", { attrs: { "data-need-id": need.id } }, cells);
  });
}

function summaryTable(ref, plan, needs) {
  const heads = [t("plan.summary.site"), t("plan.summary.partner"), t("plan.summary.gets"),
    t("plan.summary.lacks")];
  if (plan.status === "draft") heads.push(t("plan.summary.greedy"));
  else heads.push(t("plan.summary.dispatched"), t("plan.summary.delivered"));
  return tableOf("plan-summary", t("plan.summary.caption"), heads, summaryRows(ref, plan, needs),
    t("plan.summary.empty"));
}

function comparison(plan) {
  const compared = (plan.explanation || {}).greedy_comparison;
  if (!compared) return null;
  const rows = Object.keys(MEASURES).map((key) =>
    el("tr", { attrs: { "data-measure": key } }, [
      el("th", { text: MEASURES[key](), attrs: { scope: "row" } }),
      cell(compared.optimal[key]), cell(compared.greedy[key]),
    ]));
  return tableOf("plan-comparison", t("plan.compare.caption"),
    [t("plan.compare.measure"), t("plan.compare.optimal"), t("plan.compare.greedy")], rows,
    t("plan.summary.empty"));
}

function linesTable(ref, plan, needs) {
  const siteById = new Map(needs.map((n) => [n.id, `${siteOf(n)} (${n.partner || ""})`]));
  return tableOf("plan-lines", t("plan.lines.caption"),
    [t("plan.lines.warehouse"), t("plan.lines.site"), t("plan.lines.item"),
      t("plan.figure.planned"),
      t("plan.lines.reserved"), t("plan.figure.dispatched"), t("plan.figure.delivered"),
      t("plan.lines.returned")],
    plan.lines.map((x) => el("tr", {}, [
      cell(nameOfWarehouse(ref, x.warehouse)), cell(siteById.get(x.need_id) || x.need_id),
      cell(nameOfItem(ref, x.item_code)), cell(x.quantity), cell(x.reserved), cell(x.dispatched),
      cell(x.delivered), cell(x.returned),
    ])),
    t("plan.lines.empty"));
}

function reachTable(plan, needs) {
  const siteById = new Map(needs.map((n) => [n.id, `${siteOf(n)} (${n.partner || ""})`]));
  return tableOf("plan-reach", t("plan.reach.caption"),
    [t("plan.summary.site"), t("plan.reach.households"), t("plan.reach.people"),
      t("plan.reach.note")],
    (plan.reached || []).map((x) => el("tr", {}, [
      cell(siteById.get(x.need_id) || x.need_id), cell(x.households), cell(x.individuals),
      cell(x.note),
    ])),
    t("plan.reach.empty"));
}

function objectivesText(plan) {
  const objectives = (plan.explanation || {}).objectives;
  return objectives
    ? t("plan.objectives", {
      allocated: formatNumber(objectives.units_allocated),
      requested: formatNumber(objectives.units_requested),
      rate: Math.round(100 * objectives.min_weighted_fill_rate),
    })
    : "";
}

// ---- actions -----------------------------------------------------------------------------------

const actions = {};

// One action on the shown plan: send it, then show the plan as the service answered it and
// follow it while stock works on it. `done` runs after a success (a form clears itself).
async function act(button, action, body, done = () => {}) {
  button.disabled = true;
  const keyed = (actions[action] ??= keyedAction());
  try {
    const path = `/v1/plans/${encodeURIComponent(shownPlan.plan_id)}/${action}`;
    const plan = await api(path, { method: "POST", body, key: keyed.keyFor(path, body) });
    keyed.done();
    report(null);
    done();
    await showPlan(plan);
    followWhileInProgress(plan);
    await listPlans();
  } catch (error) {
    report(error);
  } finally {
    button.disabled = false;
  }
}

function labelled(id, text, control) {
  control.id = id;
  return [el("label", { text, attrs: { for: id } }), control];
}

function dispatchForm() {
  const form = el("form", { className: "inline-form", attrs: { id: "dispatch-form" } }, [
    ...labelled("dispatch-waybill", t("plan.dispatch.waybill"), el("input",
      { attrs: { name: "waybill_number", type: "text", required: "", maxlength: "64" } })),
    ...labelled("dispatch-destination", t("plan.dispatch.destination"), el("input",
      { attrs: { name: "destination", type: "text", required: "", maxlength: "200" } })),
    el("button", { text: t("plan.dispatch.submit"), attrs: { type: "submit" } }),
  ]);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(form.querySelector("button[type=submit]"), "dispatch", {
      waybill_number: form.elements.waybill_number.value.trim(),
      destination: form.elements.destination.value.trim(),
    }, () => form.reset());
  });
  return folded("dispatch-fold", t("plan.dispatch.heading"), [form]);
}

// One delivery is one distribution at one need's site: a quantity per line of that need, and
// the households and people reached, counted once. Chosen by site and partner, lines named by
// item and warehouse.
function deliveryForm(ref, plan, needs) {
  const open = plan.lines.filter((x) => x.dispatched > x.delivered);
  const needIds = [...new Set(open.map((x) => x.need_id))];
  const label = new Map(needs.map((n) => [n.id,
    t("plan.delivery.option", { site: siteOf(n), place: placeOf(ref, n) || "—",
      partner: n.partner || "" })]));
  const choice = el("select", { attrs: { name: "need_id", required: "" } },
    needIds.map((id) => el("option", { text: label.get(id) || id, attrs: { value: id } })));
  const lines = el("fieldset", { attrs: { id: "delivery-lines" } });
  const showLines = () => {
    lines.replaceChildren(el("legend", { text: t("plan.delivery.lines") }),
      ...open.filter((x) => x.need_id === choice.value).flatMap((x, n) => labelled(
        `delivery-line-${n}`,
        t("plan.delivery.line", { item: nameOfItem(ref, x.item_code),
          warehouse: nameOfWarehouse(ref, x.warehouse),
          left: formatNumber(x.dispatched - x.delivered) }),
        el("input", { attrs: { type: "number", min: "0", "data-line-id": x.line_id } }),
      )));
  };
  choice.addEventListener("change", showLines);
  const number = (name) => el("input", { attrs: { name, type: "number", min: "0", required: "" } });
  const form = el("form", { className: "inline-form", attrs: { id: "delivery-form" } }, [
    ...labelled("delivery-need", t("plan.delivery.need"), choice),
    lines,
    ...labelled("delivery-households", t("plan.delivery.households"), number("households")),
    el("p", { className: "hint", text: t("plan.delivery.households_hint") }),
    ...labelled("delivery-individuals", t("plan.delivery.people"), number("individuals")),
    ...labelled("delivery-note", t("plan.delivery.note"),
      el("input", { attrs: { name: "note", type: "text", maxlength: "500" } })),
    el("button", { text: t("plan.delivery.submit"), attrs: { type: "submit" } }),
  ]);
  showLines();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const quantities = [...lines.querySelectorAll("input[data-line-id]")]
      .filter((input) => Number(input.value) > 0)
      .map((input) => ({ line_id: input.dataset.lineId, quantity: Number(input.value) }));
    const delivery = {
      need_id: choice.value,
      lines: quantities,
      households: Number(form.elements.households.value),
      individuals: Number(form.elements.individuals.value),
    };
    const note = form.elements.note.value.trim();
    if (note) delivery.note = note;
    act(form.querySelector("button[type=submit]"), "deliveries", { deliveries: [delivery] },
      () => form.reset());
  });
  return folded("delivery-fold", t("plan.delivery.heading"), [form]);
}

function actionsOf(ref, plan, needs) {
  const buttons = el("div", { className: "actions" });
  if (plan.status === "draft") {
    const approve = el("button", { text: t("plan.approve"),
      attrs: { type: "button", id: "approve-plan" } });
    approve.addEventListener("click", () => act(approve, "approve", { all_or_nothing: false }));
    buttons.append(approve);
  }
  const reload = el("button", { text: t("plan.reload"),
    attrs: { type: "button", id: "reload-plan" } });
  reload.addEventListener("click", () => openPlan(plan.plan_id).catch(report));
  buttons.append(reload);
  const forms = [];
  if (DISPATCHABLE.has(plan.status)) forms.push(dispatchForm());
  if (DELIVERABLE.has(plan.status) && plan.lines.some((x) => x.dispatched > x.delivered)) {
    forms.push(deliveryForm(ref, plan, needs));
  }
  return [buttons, ...forms];
}

// Before approval the comparison is what the coordinator weighs: shown; afterwards, folded.
function comparisonBlock(plan, compared) {
  if (!compared) return [];
  const hint = el("p", { className: "hint", text: t("plan.compare.hint") });
  if (plan.status === "draft") {
    return [el("h4", { text: t("plan.compare.heading") }), compared, hint];
  }
  return [folded("plan-comparison-fold", t("plan.compare.heading"), [compared, hint])];
}

// ---- showing a plan ----------------------------------------------------------------------------

async function showPlan(plan) {
  shownPlan = plan;
  const ref = await reference();
  const needs = perNeed(plan);
  const status = el("strong", { className: "status", text: statusName(plan.status),
    attrs: { id: "plan-status", "data-status": plan.status } });
  const compared = comparison(plan);
  const detail = byId("plan-detail");
  detail.replaceChildren(
    el("div", { className: "view-head" }, [
      el("h3", { text: plan.title, attrs: { id: "plan-detail-title" } }),
      el("p", {}, [`${t("plan.status_label")} `, status]),
    ]),
    figures(plan),
    ...actionsOf(ref, plan, needs),
    el("h4", { text: t("plan.summary.heading") }),
    summaryTable(ref, plan, needs),
    ...comparisonBlock(plan, compared),
    folded("plan-lines-fold", t("plan.lines.heading"), [linesTable(ref, plan, needs)]),
    folded("plan-reach-fold", t("plan.reach.heading"), [reachTable(plan, needs)]),
    folded("plan-objectives-fold", t("plan.objectives_heading"),
      [el("p", { className: "hint", text: objectivesText(plan),
        attrs: { id: "plan-objectives" } })]),
  );
  detail.hidden = false;
  // The plan is what is read now: the need picker folds away (one click opens it again).
  const picker = byId("need-picker");
  if (picker) picker.open = false;
}

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
}

// Approval and dispatch are answered by the stock service through events: follow until done.
function followWhileInProgress(plan, attempt = 0) {
  stopPolling();
  if (!IN_PROGRESS.has(plan.status) || attempt >= POLL_ATTEMPTS) {
    return;
  }
  pollTimer = setTimeout(async () => {
    try {
      const latest = await api(`/v1/plans/${encodeURIComponent(plan.plan_id)}`);
      if (latest.plan_id === shownPlan?.plan_id) {
        await showPlan(latest);
        followWhileInProgress(latest, attempt + 1);
        await listPlans();
      }
    } catch (error) {
      report(error);
    }
  }, POLL_INTERVAL_MS);
}

async function openPlan(planId) {
  const plan = await api(`/v1/plans/${encodeURIComponent(planId)}`);
  await showPlan(plan);
  followWhileInProgress(plan);
  byId("plan-detail").scrollIntoView({ block: "start" });
}

async function listPlans() {
  const page = await api("/v1/plans?limit=50");
  const rows = page.items.map((plan) => {
    const sum = totals(plan);
    const open = el("button", { text: plan.title, className: "link plan-open",
      attrs: { type: "button", "aria-label": t("plan.open", { title: plan.title }) } });
    open.addEventListener("click", () => openPlan(plan.plan_id).catch(report));
    return el("tr", { attrs: { "data-plan-id": plan.plan_id } }, [
      el("th", { attrs: { scope: "row" } }, [open]),
      cell(statusName(plan.status)), cell(sum.planned), cell(sum.dispatched),
      cell(sum.delivered), cell(formatDateTime(plan.created_at)),
    ]);
  });
  byId("plans-list").replaceChildren(tableOf("plans-table", t("plan.list.caption"),
    [t("plan.list.plan"), t("plan.list.status"), t("plan.figure.planned"),
      t("plan.figure.dispatched"),
      t("plan.figure.delivered"), t("plan.list.created")], rows, t("plan.list.empty")));
}

// The view's own layout, drawn in its section (the shell holds only the section).
function build() {
  const section = byId("view-plans");
  const refresh = el("button", { text: t("plan.refresh"), className: "refresh",
    attrs: { type: "button" } });
  refresh.addEventListener("click", () => showPlans().catch(report));
  section.replaceChildren(
    el("div", { className: "view-head" }, [
      el("h2", { text: t("plan.heading"), attrs: { id: "plans-title" } }), refresh,
    ]),
    el("article", { className: "card", attrs: { id: "plan-detail",
      "aria-labelledby": "plan-detail-title" } }),
    el("div", { attrs: { id: "plan-picker" } }),
    el("h3", { text: t("plan.list.heading") }),
    el("div", { attrs: { id: "plans-list" } }),
  );
  byId("plan-detail").hidden = true;
  built = true;
}

export async function showPlans() {
  if (!built) build();
  await showNeedPicker(byId("plan-picker"), {
    drafted: async (plan) => {
      await showPlan(plan);
      await listPlans();
      byId("plan-detail").scrollIntoView({ block: "start" });
    },
    reportError: report,
  });
  await listPlans();
  if (shownPlan) await showPlan(shownPlan);
}

export function setUpPlans(reportError) {
  report = reportError;
  // Everything drawn here is in the user's language: draw it again in the new one.
  onLanguageChange(() => {
    if (built && !byId("view-plans").hidden) {
      built = false;
      showPlans().catch(report);
    } else {
      built = false;
    }
  });
}

export function forgetPlans() {
  stopPolling();
  shownPlan = null;
  const detail = byId("plan-detail");
  if (detail) detail.hidden = true;
}
