// "Needs gap": validated needs, requested against planned and delivered, per region and site.

import { api } from "./api.js";
import { el, fillTable, number, percent, row } from "./dom.js";

// Needs that count towards the gap: accepted by a coordinator and not withdrawn.
const OPEN_STATUSES = ["validated", "partially-covered", "covered"];
const PAGE_SIZE = 500;

async function validatedNeeds() {
  const needs = [];
  for (let offset = 0; ; offset += PAGE_SIZE) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    for (const status of OPEN_STATUSES) {
      query.append("status", status);
    }
    const page = await api(`/v1/needs?${query}`);
    needs.push(...page.items);
    if (needs.length >= page.total || page.items.length === 0) {
      return needs;
    }
  }
}

function emptyTotals() {
  return { requested: 0, planned: 0, delivered: 0, partners: new Set() };
}

function add(totals, need) {
  for (const item of need.items) {
    totals.requested += item.requested;
    totals.planned += item.planned;
    totals.delivered += item.delivered;
  }
  totals.partners.add(need.organisation);
}

// Still without any plan: what was requested beyond what is planned or already delivered.
function gap(totals) {
  return Math.max(0, totals.requested - Math.max(totals.planned, totals.delivered));
}

function covered(totals) {
  return Math.max(totals.planned, totals.delivered);
}

export function summarise(needs) {
  const regions = new Map();
  const sites = new Map();
  for (const need of needs) {
    const location = need.location;
    const region = `${location.admin1_name} (${location.admin1_pcode})`;
    const site = location.site_name || location.admin2_name || location.admin2_pcode;
    if (!regions.has(region)) {
      regions.set(region, emptyTotals());
    }
    add(regions.get(region), need);
    const siteKey = `${region}\u0000${site}`;
    if (!sites.has(siteKey)) {
      sites.set(siteKey, { region, site, ...emptyTotals() });
    }
    add(sites.get(siteKey), need);
  }
  const byName = (a, b) => a[0].localeCompare(b[0]);
  return {
    regions: [...regions.entries()].sort(byName),
    sites: [...sites.values()].sort(
      (a, b) => a.region.localeCompare(b.region) || a.site.localeCompare(b.site),
    ),
  };
}

function drawChart(container, regions) {
  container.replaceChildren();
  if (regions.length === 0) {
    container.append(el("p", { text: "No validated needs yet.", className: "hint" }));
    return;
  }
  const scale = Math.max(...regions.map(([, t]) => t.requested), 1);
  container.append(
    el("div", { className: "legend", attrs: { "aria-hidden": "true" } }, [
      el("span", {}, [el("span", { className: "swatch requested" }), "Requested"]),
      el("span", {}, [el("span", { className: "swatch planned" }), "Planned"]),
      el("span", {}, [el("span", { className: "swatch delivered" }), "Delivered"]),
    ]),
  );
  for (const [region, totals] of regions) {
    const track = el("div", { className: "bar-track" });
    for (const kind of ["requested", "planned", "delivered"]) {
      const bar = el("div", { className: `bar ${kind}` });
      // Set through the CSSOM: the Content-Security-Policy forbids inline style attributes.
      bar.style.width = `${(100 * Math.min(totals[kind], scale)) / scale}%`;
      track.append(bar);
    }
    container.append(
      el("div", { className: "chart-row", attrs: { "data-region": region } }, [
        el("div", { className: "chart-label", text: region }),
        track,
        el("div", {
          className: "chart-figures",
          text:
            `${number(totals.requested)} requested · ${number(totals.planned)} planned · ` +
            `${number(totals.delivered)} delivered · gap ${number(gap(totals))}`,
        }),
      ]),
    );
  }
}

export async function showNeeds() {
  const { regions, sites } = summarise(await validatedNeeds());
  drawChart(document.getElementById("needs-chart"), regions);
  fillTable(
    document.getElementById("needs-regions"),
    regions.map(([region, t]) =>
      row([region, t.requested, t.planned, t.delivered, gap(t),
        percent(covered(t), t.requested)]),
    ),
    "No validated needs yet.",
  );
  fillTable(
    document.getElementById("needs-sites"),
    sites.map((t) =>
      row([t.region, t.site, [...t.partners].sort().join(", "), t.requested, t.planned,
        t.delivered, gap(t), percent(covered(t), t.requested)]),
    ),
    "No validated needs yet.",
  );
}
