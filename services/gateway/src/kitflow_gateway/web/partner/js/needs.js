// Our needs: the organisation's needs with their status, possible duplicates flagged, and per
// item what was requested, planned, reserved (held in a warehouse), dispatched and delivered,
// each apart; filterable by region, cercle and status. Cards, so that a phone reads them.

import { t } from "/web/shared/i18n.js";
import { el } from "/web/shared/dom.js";
import {
  foldingTable,
  gazetteer,
  itemsByCode,
  nameOfItem,
  number,
  ownNeeds,
  placeOf,
  siteOf,
  statusBadge,
  useStyles,
} from "./track.js";

function statusNames() {
  return {
    draft: t("partner.needs.status.draft"),
    submitted: t("partner.needs.status.submitted"),
    validated: t("partner.needs.status.validated"),
    rejected: t("partner.needs.status.rejected"),
    "partially-covered": t("partner.needs.status.partially-covered"),
    covered: t("partner.needs.status.covered"),
    cancelled: t("partner.needs.status.cancelled"),
  };
}

// Each stage apart, never summed into one "covered".
function stageNames() {
  return {
    requested: t("partner.needs.stage.requested"),
    planned: t("partner.needs.stage.planned"),
    reserved: t("partner.needs.stage.reserved"),
    dispatched: t("partner.needs.stage.dispatched"),
    delivered: t("partner.needs.stage.delivered"),
  };
}

// The filters survive a language change or a return to the section.
const chosen = { admin1: "", admin2: "", status: "" };

function option(value, text, selected) {
  return el("option", { text, attrs: { value, selected: value === selected } });
}

function select(id, label, options) {
  return [el("label", { text: label, attrs: { for: id } }), el("select", { attrs: { id, name: id } }, options)];
}

function cercleOptions(places, admin1) {
  const cercles = places.admin2.filter((a) => !admin1 || a.parent === admin1);
  return [
    option("", t("partner.needs.filter.any_cercle"), chosen.admin2),
    ...cercles.map((a) => option(a.pcode, `${a.name} (${a.pcode})`, chosen.admin2)),
  ];
}

function filterForm(places, onApply) {
  const regions = [
    option("", t("partner.needs.filter.any_region"), chosen.admin1),
    ...places.admin1.map((a) => option(a.pcode, `${a.name} (${a.pcode})`, chosen.admin1)),
  ];
  const statuses = [
    option("", t("partner.needs.filter.any_status"), chosen.status),
    ...Object.entries(statusNames()).map(([s, name]) => option(s, name, chosen.status)),
  ];
  const form = el("form", { className: "filters card", attrs: { role: "search" } }, [
    el("div", {}, select("needs-region", t("partner.needs.filter.region"), regions)),
    el("div", {}, select("needs-cercle", t("partner.needs.filter.cercle"), cercleOptions(places, chosen.admin1))),
    el("div", {}, select("needs-status", t("partner.needs.filter.status"), statuses)),
    el("div", {}, [el("button", { text: t("partner.needs.filter.apply"), attrs: { type: "submit" } })]),
  ]);
  const region = form.querySelector("#needs-region");
  region.addEventListener("change", () => {
    chosen.admin1 = region.value;
    chosen.admin2 = "";
    form.querySelector("#needs-cercle").replaceChildren(...cercleOptions(places, region.value));
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    chosen.admin1 = region.value;
    chosen.admin2 = form.querySelector("#needs-cercle").value;
    chosen.status = form.querySelector("#needs-status").value;
    onApply();
  });
  return form;
}

function duplicateFlags(need) {
  return need.possible_duplicates
    .filter((d) => d.decision === "open")
    .map((d) =>
      el("p", {
        className: "flag",
        text: t("partner.needs.duplicate", { organisation: d.organisation }),
      }),
    );
}

function coverage(need, items) {
  const stages = Object.entries(stageNames());
  const columns = [
    { label: t("partner.needs.item") },
    ...stages.map(([, name]) => ({ label: name, numeric: true })),
  ];
  const rows = need.items.map((item) => [
    nameOfItem(items, item.item_code) || item.name,
    ...stages.map(([stage]) => number(item[stage])),
  ]);
  return foldingTable(t("partner.needs.coverage"), columns, rows);
}

function figures(need) {
  const pop = need.population;
  return el("dl", { className: "figures" }, [
    el("dt", { text: t("partner.needs.targeted") }),
    el("dd", {
      text: t("partner.needs.people", { households: number(pop.households), individuals: number(pop.individuals) }),
    }),
    el("dt", { text: t("partner.needs.reached") }),
    el("dd", {
      text: t("partner.needs.people", {
        households: number(need.households_reached),
        individuals: number(need.individuals_reached),
      }),
    }),
  ]);
}

function card(need, items) {
  const reason = need.rejection_reason || need.cancellation_reason;
  return el("article", { className: "card need", attrs: { "data-need": need.id } }, [
    el("h2", { text: siteOf(need) }),
    el("p", { className: "meta" }, [
      `${placeOf(need)} · `,
      statusBadge(statusNames(), need.status),
    ]),
    ...duplicateFlags(need),
    reason ? el("p", { text: t("partner.needs.reason", { reason }) }) : "",
    figures(need),
    coverage(need, items),
  ]);
}

async function show(list, count) {
  const query = new URLSearchParams();
  if (chosen.admin1) query.set("admin1_pcode", chosen.admin1);
  if (chosen.admin2) query.set("admin2_pcode", chosen.admin2);
  if (chosen.status) query.set("status", chosen.status);
  const [page, items] = await Promise.all([ownNeeds(query), itemsByCode()]);
  count.textContent = t("partner.needs.count", { count: number(page.total) });
  list.replaceChildren(...page.items.map((need) => card(need, items)));
}

export async function render(container, context) {
  useStyles();
  const places = await gazetteer();
  const count = el("p", { attrs: { role: "status", id: "needs-count" } });
  const list = el("div", { attrs: { id: "needs-list" } });
  const apply = () => show(list, count).catch(context.showProblem);
  container.append(
    el("p", { className: "hint", text: t("partner.needs.intro") }),
    filterForm(places, apply),
    count,
    list,
  );
  await show(list, count);
}
