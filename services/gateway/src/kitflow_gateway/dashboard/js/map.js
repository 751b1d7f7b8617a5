// "Map": Mali's regions (Natural Earth admin-1 polygons) and cercles (circles at their chief
// town, sized by households targeted) shaded by one sector's gap, households not covered or
// the fill rate; warehouses as squares with their stock. Everything is bundled (map/mali.json,
// built by tools/mali_map.py): no tiles, no map library, nothing from the internet. A place
// is chosen by click or keyboard (Tab, then Enter or Space) and its needs and partners listed.

import { formatNumber, locale, t } from "/web/shared/i18n.js";
import { api } from "./api.js";
import { el } from "/web/shared/dom.js";
import { SECTORS, itemLabel, placeName, reference, sectorLabel } from "./reference.js";

const SVG = "http://www.w3.org/2000/svg";
const STEPS = 4;
const STATUS_LABELS = {
  draft: () => t("map.status.draft"),
  submitted: () => t("map.status.submitted"),
  validated: () => t("map.status.validated"),
  "partially-covered": () => t("map.status.partially_covered"),
  covered: () => t("map.status.covered"),
  rejected: () => t("map.status.rejected"),
  cancelled: () => t("map.status.cancelled"),
};

let geometry = null;
let setUp = false;
let chosen = null; // { kind: "admin1" | "admin2" | "warehouse", code }
let last = null; // what the map was drawn from, for the details of a chosen place
let report = (error) => console.error(error);

// The class of an area's shade: gap-none without data, gap-0 (nothing missing) to gap-4.
// Households not covered: in quarters of the largest value on the map at that level;
// fill rate: in quarters of what is not delivered (100 % delivered is gap-0, none is gap-4).
export function gapStep(metric, row, largest) {
  if (!row || !(row.households > 0)) {
    return "gap-none";
  }
  const missing =
    metric === "fill"
      ? 1 - row.households_delivered / row.households
      : row.households_uncovered / Math.max(1, largest);
  return `gap-${Math.min(STEPS, Math.ceil(missing * STEPS - 1e-9))}`;
}

async function mapGeometry() {
  if (!geometry) {
    const response = await fetch("/dashboard/map/mali.json");
    if (!response.ok) {
      throw new Error(`map: HTTP ${response.status}`);
    }
    geometry = await response.json();
  }
  return geometry;
}

function project(geo, lon, lat) {
  const p = geo.projection;
  const x = (lon - p.west) * p.scale * Math.cos((p.lat0 * Math.PI) / 180);
  return [x, (p.north - lat) * p.scale];
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    node.setAttribute(name, String(value));
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function controls() {
  return document.getElementById("map-controls").elements;
}

function setUpOnce() {
  if (setUp) {
    return;
  }
  setUp = true;
  const select = controls().sector;
  select.replaceChildren(...SECTORS.map((s) => el("option", { attrs: { value: s } })));
  document.getElementById("map-controls").addEventListener("change", () => {
    showMap().then(() => report(null), report);
  });
}

function metricValue(metric, row) {
  if (!row) {
    return t("map.no_need");
  }
  if (metric === "fill") {
    const rate = row.households > 0 ? row.households_delivered / row.households : 0;
    return t("map.value.fill", {
      rate: new Intl.NumberFormat(locale(), { style: "percent" }).format(rate),
      delivered: formatNumber(row.households_delivered),
      households: formatNumber(row.households),
    });
  }
  return t("map.value.uncovered", {
    uncovered: formatNumber(row.households_uncovered),
    households: formatNumber(row.households),
  });
}

// A place the keyboard reaches and a click or Enter chooses.
function choosable(node, label, choice) {
  node.setAttribute("tabindex", "0");
  node.setAttribute("role", "button");
  node.setAttribute("aria-label", label);
  node.append(svg("title", {}, label));
  const choose = () => {
    chosen = choice;
    for (const other of document.querySelectorAll("#map-canvas .chosen")) {
      other.classList.remove("chosen");
    }
    node.classList.add("chosen");
    showDetail().catch((error) => {
      document.getElementById("map-detail-body").replaceChildren(
        el("p", { className: "hint", text: error.message }));
    });
  };
  node.addEventListener("click", choose);
  node.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      choose();
    }
  });
  return node;
}

function draw(geo, ref, metric, regions, cercles, warehouses) {
  const map = svg("svg", {
    viewBox: `0 0 ${geo.width} ${geo.height}`,
    role: "group",
    "aria-label": t("map.label", { sector: sectorLabel(controls().sector.value) }),
  });
  map.append(svg("path", { class: "country", d: geo.outline, "aria-hidden": "true" }));
  const regionLargest = Math.max(0, ...[...regions.values()].map((r) => r.households_uncovered));
  for (const region of geo.regions) {
    const row = regions.get(region.pcode);
    const step = gapStep(metric, row, regionLargest);
    const path = svg("path", {
      class: `region ${step}`,
      d: region.d,
      "data-pcode": region.pcode,
      "data-step": step,
    });
    const label = t("map.place_value", { place: placeName(ref, region.pcode),
      value: metricValue(metric, row) });
    map.append(choosable(path, label, { kind: "admin1", code: region.pcode }));
  }
  for (const region of geo.regions) {
    map.append(svg("text", { class: "place-label", x: region.label[0], y: region.label[1],
      "text-anchor": "middle", "aria-hidden": "true" }, ref.regions.get(region.pcode) ??
      region.name));
  }
  const cercleLargest = Math.max(0, ...[...cercles.values()].map((r) => r.households_uncovered));
  const biggest = Math.max(1, ...[...cercles.values()].map((r) => r.households));
  // Largest first, so a small circle is never hidden under a large one.
  const ordered = [...geo.cercles].sort((a, b) =>
    (cercles.get(b.pcode)?.households ?? 0) - (cercles.get(a.pcode)?.households ?? 0));
  for (const cercle of ordered) {
    const row = cercles.get(cercle.pcode);
    const step = gapStep(metric, row, cercleLargest);
    const [cx, cy] = project(geo, cercle.lon, cercle.lat);
    const r = row ? 4 + 16 * Math.sqrt(row.households / biggest) : 3;
    const circle = svg("circle", {
      class: `cercle ${step}`,
      cx: cx.toFixed(1),
      cy: cy.toFixed(1),
      r: r.toFixed(1),
      "data-pcode": cercle.pcode,
      "data-step": step,
    });
    const label = t("map.place_value", { place: placeName(ref, cercle.pcode),
      value: metricValue(metric, row) });
    map.append(choosable(circle, label, { kind: "admin2", code: cercle.pcode }));
  }
  for (const warehouse of warehouses) {
    if (!warehouse.location) {
      continue;
    }
    const [x, y] = project(geo, warehouse.location.lon, warehouse.location.lat);
    const square = svg("rect", {
      class: "warehouse",
      x: (x - 6).toFixed(1),
      y: (y - 6).toFixed(1),
      width: 12,
      height: 12,
      "data-code": warehouse.code,
    });
    const label = t("map.warehouse", { name: warehouse.name, code: warehouse.code });
    map.append(choosable(square, label, { kind: "warehouse", code: warehouse.code }));
  }
  return map;
}

function legend(metric) {
  const box = document.getElementById("map-legend");
  const steps = metric === "fill"
    ? [t("map.legend.fill_0"), t("map.legend.fill_1"), t("map.legend.fill_2"),
      t("map.legend.fill_3"), t("map.legend.fill_4")]
    : [t("map.legend.uncovered_0"), t("map.legend.uncovered_1"), t("map.legend.uncovered_2"),
      t("map.legend.uncovered_3"), t("map.legend.uncovered_4")];
  box.replaceChildren(
    ...steps.map((text, i) => el("span", {}, [el("span", { className: `swatch gap-${i}` }), text])),
    el("span", {}, [el("span", { className: "swatch gap-none" }), t("map.no_need")]),
    el("span", {}, [el("span", { className: "swatch warehouse-swatch" }), t("map.warehouses")]),
  );
}

function byPlace(rows, key) {
  return new Map(rows.map((row) => [row[key], row]));
}

export async function showMap(reportError) {
  if (reportError) {
    report = reportError;
  }
  setUpOnce();
  const fields = controls();
  const sector = fields.sector.value || SECTORS[0];
  const metric = fields.metric.value;
  const query = (level) => new URLSearchParams({ by: "sector", level, sector });
  const [geo, ref, regions, cercles, warehouses] = await Promise.all([
    mapGeometry(),
    reference(),
    api(`/v1/gaps?${query("admin1")}`),
    api(`/v1/gaps?${query("admin2")}`),
    api("/v1/warehouses?limit=500"),
  ]);
  for (const option of fields.sector.options) {
    option.textContent = sectorLabel(option.value);
  }
  last = { ref, sector, warehouses: warehouses.items };
  const canvas = document.getElementById("map-canvas");
  canvas.replaceChildren(draw(geo, ref, metric, byPlace(regions, "admin1_pcode"),
    byPlace(cercles, "admin2_pcode"), warehouses.items));
  canvas.dataset.sector = sector;
  canvas.dataset.metric = metric;
  legend(metric);
  if (chosen) {
    const selector = chosen.kind === "warehouse" ? `[data-code="${chosen.code}"]` :
      `[data-pcode="${chosen.code}"]`;
    canvas.querySelector(selector)?.classList.add("chosen");
    await showDetail();
  }
}

// The chosen place: its gap in every sector, then its needs with their partners; or the chosen
// warehouse's stock.
async function showDetail() {
  const title = document.getElementById("map-detail-title");
  const body = document.getElementById("map-detail-body");
  const { ref } = last;
  if (chosen.kind === "warehouse") {
    const warehouse = last.warehouses.find((w) => w.code === chosen.code);
    const stock = await api(`/v1/warehouses/${encodeURIComponent(chosen.code)}/stock`);
    title.textContent = t("map.warehouse", { name: warehouse?.name ?? "", code: chosen.code });
    body.replaceChildren(stock.items.length === 0 ? el("p", { className: "hint",
      text: t("map.detail.no_stock") }) : el("ul", {}, stock.items.map((item) => el("li", {
      text: t("map.detail.stock_line", { item: itemLabel(ref, item.item_code),
        available: formatNumber(item.available), on_hand: formatNumber(item.on_hand) }) }))));
    return;
  }
  const filter = chosen.kind === "admin1" ? "admin1" : "admin2";
  const [sectors, needs] = await Promise.all([
    api(`/v1/gaps?${new URLSearchParams({ by: "sector", level: chosen.kind, [filter]:
      chosen.code })}`),
    api(`/v1/needs?${new URLSearchParams({ [`${filter}_pcode`]: chosen.code, limit: "100" })}`),
  ]);
  title.textContent = placeName(ref, chosen.code);
  const partners = [...new Set(needs.items.map((n) => n.organisation))].sort();
  body.replaceChildren(
    el("h4", { text: t("map.detail.sectors") }),
    sectors.length === 0 ? el("p", { className: "hint", text: t("map.no_need") }) :
      el("ul", { className: "detail-sectors" }, sectors.map((row) => el("li", {
        attrs: { "data-sector": row.sector },
        text: t("map.place_value", { place: sectorLabel(row.sector),
          value: metricValue("uncovered", row) }) }))),
    el("h4", { text: t("map.detail.partners") }),
    el("p", { className: "detail-partners", text: partners.join(", ") || "—" }),
    el("h4", { text: t("map.detail.needs", { count: formatNumber(needs.total) }) }),
    el("ul", {}, needs.items.map((need) => el("li", { text: t("map.detail.need", {
      site: need.location.site_name || need.location.admin2_pcode,
      partner: need.organisation,
      households: formatNumber(need.population.households),
      status: STATUS_LABELS[need.status] ? STATUS_LABELS[need.status]() : need.status,
    }) }))),
  );
}
