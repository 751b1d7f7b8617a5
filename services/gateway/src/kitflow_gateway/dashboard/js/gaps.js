// "Gaps": per item (in the item's unit) or per sector (in households), by region or cercle,
// from distribution's gap view (GET /v1/gaps): requested, planned, dispatched and delivered
// each apart, households covered (delivered) and not; sorted by the API, filtered, exported as
// the API's HXL CSV; and the weekly trend of one item as a small SVG chart with its table.

import { formatNumber, t } from "/web/shared/i18n.js";
import { api } from "./api.js";
import { el } from "/web/shared/dom.js";
import { fillTable } from "./dom.js";
import {
  SECTORS,
  fillSelect,
  itemLabel,
  placeName,
  reference,
  sectorLabel,
} from "./reference.js";

const SVG = "http://www.w3.org/2000/svg";

// Columns per table: the API's field, its heading, and whether it is a number.
const PLACE_COLUMNS = [
  { key: "admin1_pcode", label: () => t("gaps.col.admin1") },
  { key: "admin2_pcode", label: () => t("gaps.col.admin2"), level: "admin2" },
  { key: "sector", label: () => t("gaps.col.sector") },
];
const ITEM_COLUMNS = [
  ...PLACE_COLUMNS,
  { key: "item_code", label: () => t("gaps.col.item") },
  { key: "unit", label: () => t("gaps.col.unit"), unsortable: true },
  { key: "needs", label: () => t("gaps.col.needs"), number: true },
  { key: "requested", label: () => t("gaps.col.requested"), number: true },
  { key: "planned", label: () => t("gaps.col.planned"), number: true },
  { key: "dispatched", label: () => t("gaps.col.dispatched"), number: true },
  { key: "delivered", label: () => t("gaps.col.delivered"), number: true },
  { key: "gap", label: () => t("gaps.col.gap"), number: true },
  { key: "households", label: () => t("gaps.col.households"), number: true },
  { key: "households_delivered", label: () => t("gaps.col.households_delivered"), number: true },
  { key: "households_uncovered", label: () => t("gaps.col.households_uncovered"), number: true },
];
const SECTOR_COLUMNS = [
  ...PLACE_COLUMNS,
  { key: "needs", label: () => t("gaps.col.needs"), number: true },
  { key: "households", label: () => t("gaps.col.households"), number: true },
  { key: "households_planned", label: () => t("gaps.col.households_planned"), number: true },
  {
    key: "households_dispatched",
    label: () => t("gaps.col.households_dispatched"),
    number: true,
  },
  { key: "households_delivered", label: () => t("gaps.col.households_delivered"), number: true },
  { key: "households_uncovered", label: () => t("gaps.col.households_uncovered"), number: true },
];

let sort = "-households_uncovered";
let trendItem = "";
let setUp = false;
// Where errors of what the user starts here (sorting, filtering, export) are shown.
let report = (error) => console.error(error);

function refresh() {
  showGaps().then(() => report(null), report);
}

function form() {
  return document.getElementById("gaps-filters");
}

// By name through namedItem: `elements.item` is the collection's own item() method.
function field(name) {
  return form().elements.namedItem(name);
}

// The filters as the API's query: empty fields left out.
export function gapQuery(extra = {}) {
  const query = new URLSearchParams();
  for (const name of ["admin1", "admin2", "organisation", "sector", "item"]) {
    const value = field(name).value.trim();
    if (value) {
      query.set(name, value);
    }
  }
  for (const [name, value] of Object.entries(extra)) {
    query.set(name, value);
  }
  return query;
}

function columnsOf(by, level) {
  const columns = by === "sector" ? SECTOR_COLUMNS : ITEM_COLUMNS;
  return columns.filter((c) => !c.level || c.level === level);
}

function cellText(ref, column, row) {
  const value = row[column.key];
  switch (column.key) {
    case "admin1_pcode":
    case "admin2_pcode":
      return placeName(ref, value);
    case "sector":
      return sectorLabel(value);
    case "item_code":
      return itemLabel(ref, value);
    default:
      return value ?? "";
  }
}

function header(table, columns) {
  const cells = columns.map((column) => {
    const th = el("th", { attrs: { scope: "col" }, className: column.number ? "number" : "" });
    if (column.unsortable) {
      th.textContent = column.label();
      return th;
    }
    const current = sort.replace(/^-/, "");
    if (current === column.key) {
      th.setAttribute("aria-sort", sort.startsWith("-") ? "descending" : "ascending");
    }
    const button = el("button", {
      text: column.label(),
      className: "sort",
      attrs: { type: "button", "data-sort": column.key },
    });
    button.addEventListener("click", () => {
      // Numbers read largest first on the first press, names A to Z.
      const first = column.number ? `-${column.key}` : column.key;
      sort = sort === first ? (first.startsWith("-") ? column.key : `-${column.key}`) : first;
      refresh();
    });
    th.append(button);
    return th;
  });
  table.tHead.rows[0].replaceChildren(...cells);
}

function rowOf(ref, columns, row) {
  const tr = el(
    "tr",
    {
      attrs: {
        "data-admin": row.admin2_pcode || row.admin1_pcode,
        "data-sector": row.sector,
        "data-item": row.item_code || "",
      },
    },
    columns.map((column) => {
      const value = cellText(ref, column, row);
      const classes = [column.number ? "number" : "", column.key === "households_uncovered" ?
        "uncovered" : ""].filter(Boolean).join(" ");
      return el("td", {
        text: column.number ? formatNumber(value) : value,
        className: classes,
        attrs: { "data-col": column.key },
      });
    }),
  );
  return tr;
}

function fillFilters(ref) {
  fillSelect(field("admin1"), t("gaps.all_regions"), [...ref.regions].map(([code, name]) =>
    [code, `${name} (${code})`]));
  const region = field("admin1").value;
  const cercles = [...ref.cercles].filter(([, c]) => !region || c.admin1 === region);
  fillSelect(field("admin2"), t("gaps.all_cercles"), cercles.map(([code, c]) =>
    [code, `${c.name} (${code})`]));
  fillSelect(field("sector"), t("gaps.all_sectors"), SECTORS.map((s) => [s, sectorLabel(s)]));
  fillSelect(field("item"), t("gaps.all_items"), [...ref.items.keys()].sort().map((code) =>
    [code, itemLabel(ref, code)]));
}

function setUpOnce() {
  if (setUp) {
    return;
  }
  setUp = true;
  const filters = form();
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  // A choice in a list shows at once; the partner's code waits for Enter or "Show".
  filters.addEventListener("change", (event) => {
    if (event.target.tagName === "SELECT") {
      if (event.target.name === "admin1") {
        field("admin2").value = "";
      }
      refresh();
    }
  });
  document.getElementById("gaps-export").addEventListener("click", () => {
    exportCsv().then(() => report(null), report);
  });
  document.getElementById("gaps-trend-item").addEventListener("change", (event) => {
    trendItem = event.target.value;
    refresh();
  });
}

async function exportCsv() {
  const by = field("by").value;
  const query = gapQuery({ by, level: field("level").value, sort });
  const response = await api(`/v1/gaps.csv?${query}`, { raw: true });
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { attrs: { href: url, download: `kitflow-gaps-${by}.csv` } });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export async function showGaps(reportError) {
  if (reportError) {
    report = reportError;
  }
  setUpOnce();
  const ref = await reference();
  fillFilters(ref);
  const by = field("by").value;
  const level = field("level").value;
  const columns = columnsOf(by, level);
  if (!columns.some((c) => c.key === sort.replace(/^-/, ""))) {
    sort = "-households_uncovered";
  }
  const [rows, trend] = await Promise.all([
    api(`/v1/gaps?${gapQuery({ by, level, sort })}`),
    api(`/v1/gaps/trend?${gapQuery()}`),
  ]);
  const table = document.getElementById("gaps-table");
  table.dataset.by = by;
  table.dataset.level = level;
  header(table, columns);
  fillTable(table, rows.map((row) => rowOf(ref, columns, row)), t("gaps.empty"));
  showTrend(ref, trend);
}

// The items the trend has, the chosen one kept; else the filtered item, else the one most asked.
function chooseTrendItem(ref, trend) {
  const totals = new Map();
  for (const week of trend) {
    totals.set(week.item_code, Math.max(totals.get(week.item_code) ?? 0, week.requested_to_date));
  }
  const select = document.getElementById("gaps-trend-item");
  const codes = [...totals.keys()].sort();
  select.replaceChildren(...codes.map((code) => el("option", {
    text: itemLabel(ref, code), attrs: { value: code } })));
  const filtered = field("item").value;
  if (!totals.has(trendItem)) {
    trendItem = totals.has(filtered) ? filtered :
      [...totals].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "";
  }
  select.value = trendItem;
  select.disabled = codes.length === 0;
  return trendItem;
}

function showTrend(ref, trend) {
  const code = chooseTrendItem(ref, trend);
  const weeks = trend.filter((w) => w.item_code === code);
  const table = document.getElementById("gaps-trend-table");
  fillTable(table, weeks.map((w) => el("tr", {}, [
    el("th", { text: w.week, attrs: { scope: "row" } }),
    ...["requested", "planned", "delivered", "requested_to_date", "planned_to_date",
      "delivered_to_date"].map((key) => el("td", { text: formatNumber(w[key]),
      className: "number", attrs: { "data-col": key } })),
  ])), t("gaps.trend.empty"));
  drawTrend(weeks);
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

// Three running totals (requested, planned, delivered to date) over the weeks: what was asked
// and how far planning and delivery have caught up. Drawn for sighted users only: the table
// below it holds the same figures.
function drawTrend(weeks) {
  const box = document.getElementById("gaps-trend-chart");
  const legend = document.getElementById("gaps-trend-legend");
  box.replaceChildren();
  legend.replaceChildren();
  if (weeks.length === 0) {
    return;
  }
  const width = 600;
  const height = 200;
  const pad = { left: 48, right: 12, top: 10, bottom: 24 };
  const top = Math.max(1, ...weeks.map((w) => w.requested_to_date));
  const x = (i) => pad.left + (weeks.length === 1 ? 0.5 : i / (weeks.length - 1)) *
    (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / top) * (height - pad.top - pad.bottom);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "presentation" });
  chart.append(
    svg("line", { class: "axis", x1: pad.left, y1: y(0), x2: width - pad.right, y2: y(0) }),
    svg("line", { class: "axis", x1: pad.left, y1: y(0), x2: pad.left, y2: pad.top }),
    svg("text", { class: "tick", x: pad.left - 6, y: y(top) + 4, "text-anchor": "end" },
      formatNumber(top)),
    svg("text", { class: "tick", x: pad.left - 6, y: y(0) + 4, "text-anchor": "end" }, "0"),
  );
  weeks.forEach((w, i) => {
    if (weeks.length <= 12 || i % Math.ceil(weeks.length / 12) === 0) {
      chart.append(svg("text", { class: "tick", x: x(i), y: height - 6, "text-anchor": "middle" },
        w.week.slice(5)));
    }
  });
  const series = [
    ["requested", "requested_to_date", () => t("gaps.trend.requested_to_date")],
    ["planned", "planned_to_date", () => t("gaps.trend.planned_to_date")],
    ["delivered", "delivered_to_date", () => t("gaps.trend.delivered_to_date")],
  ];
  for (const [name, key, label] of series) {
    const points = weeks.map((w, i) => `${x(i).toFixed(1)},${y(w[key]).toFixed(1)}`);
    chart.append(svg("polyline", { class: name, points: points.join(" ") }));
    if (weeks.length === 1) {
      chart.append(svg("circle", { class: name, cx: x(0), cy: y(weeks[0][key]), r: 4 }));
    }
    legend.append(el("span", {}, [
      el("span", { className: `swatch ${name === "requested" ? "line-requested" : name}` }),
      label(),
    ]));
  }
  box.append(chart);
}
