// "Plans": draft with the planner, read its explanation, approve, and follow the plan's status
// and delivery progress.

import { api, keyedAction } from "./api.js";
import { el, fillTable, number, percent, row } from "./dom.js";

// Statuses the plan leaves on its own once stock answers: worth polling for.
const IN_PROGRESS = new Set(["reserving", "dispatching"]);
const POLL_INTERVAL_MS = 1000;
const POLL_ATTEMPTS = 120;

let shownPlanId = null;
let pollTimer = null;

function listOf(text) {
  const values = text.split(",").map((v) => v.trim()).filter(Boolean);
  return values.length ? values : undefined;
}

function progressOf(plan) {
  let dispatched = 0;
  let delivered = 0;
  let households = 0;
  for (const line of plan.lines) {
    dispatched += line.dispatched;
    delivered += line.delivered;
  }
  // Households are reached per need, once, however many of the plan's items they received.
  for (const reached of plan.reached || []) {
    households += reached.households;
  }
  return { dispatched, delivered, households };
}

function showExplanation(explanation) {
  const coverage = explanation.coverage || [];
  const coverageRows = [];
  for (const need of coverage) {
    for (const item of need.items) {
      coverageRows.push(
        row([need.need_id, need.partner, item.item, item.requested, item.allocated,
          percent(item.allocated, item.requested)]),
      );
    }
  }
  fillTable(document.getElementById("plan-coverage"), coverageRows, "No need in reach.");

  // The planner's sentence says why; which need, which item and how much it names here.
  const partnerOf = new Map(coverage.map((need) => [need.need_id, need.partner]));
  const shortfalls = document.getElementById("plan-shortfalls");
  shortfalls.replaceChildren(
    ...(explanation.shortfalls || []).map((s) =>
      el("li", {}, [
        el("strong", {
          text: `${partnerOf.get(s.need_id) || "Need"} ${s.need_id}: ` +
            `${number(s.quantity)} ${s.item} short`,
        }),
        ` — ${s.explanation}`,
      ]),
    ),
  );
  if (!shortfalls.children.length) {
    shortfalls.append(el("li", { text: "None: every need in the plan is fully covered." }));
  }
  const objectives = explanation.objectives;
  document.getElementById("plan-objectives").textContent = objectives
    ? `${number(objectives.units_allocated)} of ${number(objectives.units_requested)} units ` +
      `allocated; lowest weighted fill rate ` +
      `${Math.round(100 * objectives.min_weighted_fill_rate)}%.`
    : "";
}

// What the distribution service accepts: dispatch once reserved, deliveries once dispatched.
const DISPATCHABLE = new Set(["reserved", "partly-reserved"]);
const DELIVERABLE = new Set(["dispatching", "dispatched", "delivered"]);

let openLines = [];

// One delivery is one distribution at one need: a quantity per line of that need, and the
// households and people reached, counted once.
function showDeliveryLines(form) {
  const needId = form.elements.need_id.value;
  const fieldset = document.getElementById("delivery-lines");
  const legend = fieldset.querySelector("legend");
  fieldset.replaceChildren(
    legend,
    ...openLines
      .filter((x) => x.need_id === needId)
      .flatMap((x, n) => {
        const id = `delivery-line-${n}`;
        return [
          el("label", {
            text: `${x.item_code} from ${x.warehouse} ` +
              `(${number(x.dispatched - x.delivered)} still to deliver)`,
            attrs: { for: id },
          }),
          el("input", {
            attrs: { id, type: "number", min: "0", "data-line-id": x.line_id },
          }),
        ];
      }),
  );
}

function showDeliveryForm(plan) {
  const form = document.getElementById("delivery-form");
  openLines = DELIVERABLE.has(plan.status)
    ? plan.lines.filter((x) => x.dispatched > x.delivered)
    : [];
  form.hidden = openLines.length === 0;
  const needs = [...new Set(openLines.map((x) => x.need_id))];
  form.elements.need_id.replaceChildren(
    ...needs.map((needId) => el("option", { text: needId, attrs: { value: needId } })),
  );
  showDeliveryLines(form);
}

function deliveryOf(fields) {
  const lines = [...document.querySelectorAll("#delivery-lines input[data-line-id]")]
    .filter((input) => Number(input.value) > 0)
    .map((input) => ({ line_id: input.dataset.lineId, quantity: Number(input.value) }));
  const delivery = {
    need_id: fields.need_id.value,
    lines,
    households: Number(fields.households.value),
    individuals: Number(fields.individuals.value),
  };
  const note = fields.note.value.trim();
  if (note) delivery.note = note;
  return { deliveries: [delivery] };
}

function showPlan(plan) {
  shownPlanId = plan.plan_id;
  const detail = document.getElementById("plan-detail");
  detail.hidden = false;
  document.getElementById("plan-detail-title").textContent = `${plan.title} (${plan.plan_id})`;
  const status = document.getElementById("plan-status");
  status.textContent = plan.status;
  status.dataset.status = plan.status;
  const progress = progressOf(plan);
  document.getElementById("plan-progress").textContent =
    `Delivered ${number(progress.delivered)} of ${number(progress.dispatched)} dispatched; ` +
    `${number(progress.households)} households reached.`;
  document.getElementById("approve-plan").hidden = plan.status !== "draft";
  document.getElementById("dispatch-form").hidden = !DISPATCHABLE.has(plan.status);
  showDeliveryForm(plan);
  fillTable(
    document.getElementById("plan-lines"),
    plan.lines.map((x) =>
      row([x.warehouse, x.need_id, x.item_code, x.quantity, x.reserved, x.dispatched,
        x.delivered, x.returned]),
    ),
    "The planner found nothing to allocate.",
  );
  fillTable(
    document.getElementById("plan-reach"),
    (plan.reached || []).map((x) => row([x.need_id, x.households, x.individuals, x.note])),
    "Nothing delivered yet.",
  );
  showExplanation(plan.explanation || {});
}

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
}

// Approval and dispatch are answered by the stock service through events: follow until done.
function followWhileInProgress(plan, report, attempt = 0) {
  stopPolling();
  if (!IN_PROGRESS.has(plan.status) || attempt >= POLL_ATTEMPTS) {
    return;
  }
  pollTimer = setTimeout(async () => {
    try {
      const latest = await api(`/v1/plans/${encodeURIComponent(plan.plan_id)}`);
      if (latest.plan_id === shownPlanId) {
        showPlan(latest);
        followWhileInProgress(latest, report, attempt + 1);
        await listPlans();
      }
    } catch (error) {
      report(error);
    }
  }, POLL_INTERVAL_MS);
}

async function openPlan(planId, report) {
  const plan = await api(`/v1/plans/${encodeURIComponent(planId)}`);
  showPlan(plan);
  followWhileInProgress(plan, report);
}

let openHandler = () => {};

async function listPlans() {
  const page = await api("/v1/plans?limit=50");
  fillTable(
    document.getElementById("plans-table"),
    page.items.map((plan) => {
      const progress = progressOf(plan);
      const open = el("button", { text: plan.title, className: "link",
        attrs: { type: "button", "aria-label": `Open plan ${plan.title}` } });
      open.addEventListener("click", () => openHandler(plan.plan_id));
      const line = row([
        "", plan.status, `${number(progress.delivered)} / ${number(progress.dispatched)}`,
        progress.households, new Date(plan.created_at).toLocaleString("en-GB"),
      ]);
      line.cells[0].append(open);
      return line;
    }),
    "No plans yet.",
  );
}

export async function showPlans() {
  await listPlans();
}

export function setUpPlans(report) {
  openHandler = (planId) => openPlan(planId, report).catch(report);

  const form = document.getElementById("draft-form");
  const drafting = keyedAction();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const body = { title: form.elements.title.value.trim() };
      const needIds = listOf(form.elements.need_ids.value);
      const itemCodes = listOf(form.elements.item_codes.value);
      if (needIds) body.need_ids = needIds;
      if (itemCodes) body.item_codes = itemCodes;
      const plan = await api("/v1/plans", {
        method: "POST",
        body,
        key: drafting.keyFor("/v1/plans", body),
      });
      drafting.done();
      report(null);
      showPlan(plan);
      await listPlans();
    } catch (error) {
      report(error);
    } finally {
      button.disabled = false;
    }
  });

  // One action on the shown plan: send it, then show the plan as the service answered it and
  // follow it while stock works on it. `done` runs after a success (a form clears itself).
  const actions = {};
  async function act(button, action, body, done = () => {}) {
    button.disabled = true;
    const keyed = (actions[action] ??= keyedAction());
    try {
      const path = `/v1/plans/${encodeURIComponent(shownPlanId)}/${action}`;
      const plan = await api(path, { method: "POST", body, key: keyed.keyFor(path, body) });
      keyed.done();
      report(null);
      done();
      showPlan(plan);
      followWhileInProgress(plan, report);
      await listPlans();
    } catch (error) {
      report(error);
    } finally {
      button.disabled = false;
    }
  }

  const approve = document.getElementById("approve-plan");
  approve.addEventListener("click", () => act(approve, "approve", { all_or_nothing: false }));

  function onSubmit(form, action, bodyOf) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(form.querySelector("button[type=submit]"), action, bodyOf(form.elements),
        () => form.reset());
    });
  }

  onSubmit(document.getElementById("dispatch-form"), "dispatch", (fields) => ({
    waybill_number: fields.waybill_number.value.trim(),
    destination: fields.destination.value.trim(),
  }));
  const deliveryForm = document.getElementById("delivery-form");
  deliveryForm.elements.need_id.addEventListener("change", () => showDeliveryLines(deliveryForm));
  onSubmit(deliveryForm, "deliveries", deliveryOf);

  document.getElementById("reload-plan").addEventListener("click", () => {
    if (shownPlanId) {
      openHandler(shownPlanId);
    }
  });
}

export function forgetPlans() {
  stopPolling();
  shownPlanId = null;
  document.getElementById("plan-detail").hidden = true;
}
