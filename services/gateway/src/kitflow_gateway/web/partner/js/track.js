// What the three tracking sections (our needs, plans and deliveries, Kobo submissions) share:
// the names behind the codes the API answers with (items, warehouses, places), read once per
// session, and a table that folds into labelled rows on a phone.

import { formatNumber, itemName } from "/web/shared/i18n.js";
import { api } from "./api.js";
import { el } from "/web/shared/dom.js";

const loaded = {};

// One request per session for each reference list; a failed one is asked again next time.
function once(name, load) {
  if (!loaded[name]) {
    loaded[name] = load().catch((error) => {
      delete loaded[name];
      throw error;
    });
  }
  return loaded[name];
}

export function itemsByCode() {
  return once("items", async () => {
    const page = await api("/v1/items?limit=500");
    return new Map(page.items.map((item) => [item.code, item]));
  });
}

export function warehousesByCode() {
  return once("warehouses", async () => {
    const page = await api("/v1/warehouses?limit=500");
    return new Map(page.items.map((warehouse) => [warehouse.code, warehouse]));
  });
}

export function gazetteer() {
  return once("gazetteer", () => api("/v1/reference/gazetteer"));
}

// The organisation's needs (the API shows a partner only its own), with `query` as filters.
export async function ownNeeds(query = new URLSearchParams()) {
  const params = new URLSearchParams(query);
  params.set("limit", "500");
  return api(`/v1/needs?${params}`);
}

// The item's name in the page's language (the catalogue's name_fr / name_en), else the code.
export function nameOfItem(items, code) {
  const item = items.get(code);
  return item ? itemName(item) : code;
}

export function siteOf(need) {
  const place = need.location;
  return place.site_name || place.admin2_name || place.admin2_pcode;
}

export function placeOf(need) {
  const place = need.location;
  return `${place.admin2_name || place.admin2_pcode}, ${place.admin1_name}`;
}

export function number(value) {
  return formatNumber(value || 0);
}

// The sections' own styles, added once next to the portal's.
export function useStyles() {
  if (!document.querySelector("link[data-tracking]")) {
    document.head.append(
      el("link", { attrs: { rel: "stylesheet", href: "/partner/tracking.css", "data-tracking": true } }),
    );
  }
}

// columns: [{ label, numeric }]; rows: arrays of cell values (text, or a node). On a phone each
// row folds into a block where every cell is preceded by its column's label (tracking.css).
export function foldingTable(caption, columns, rows) {
  const head = el("tr", {}, columns.map((c) => el("th", { text: c.label, attrs: { scope: "col" } })));
  const body = rows.map((cells) =>
    el(
      "tr",
      {},
      cells.map((value, index) => {
        const column = columns[index];
        const cell = el(index === 0 ? "th" : "td", {
          className: column.numeric ? "number" : undefined,
          attrs: { "data-label": column.label, scope: index === 0 ? "row" : undefined },
        });
        cell.append(value instanceof Node ? value : String(value ?? ""));
        return cell;
      }),
    ),
  );
  return el("table", { className: "fold" }, [
    el("caption", { text: caption }),
    el("thead", {}, [head]),
    el("tbody", {}, body),
  ]);
}

// `names`: status -> its name in the page's language (the catalogue's keys are literals).
export function statusBadge(names, status) {
  return el("span", { className: `badge status-${status}`, text: names[status] || status });
}

// "deliveries[0].lines[1].quantity" (a business rule) and "deliveries.0.lines.1.quantity"
// (pydantic) name the same field: the forms use the second.
export function dottedFields(fields) {
  const out = {};
  for (const [name, reason] of Object.entries(fields)) {
    const key = name.replaceAll(/\[(\d+)\]/g, ".$1");
    out[key] = out[key] ? `${out[key]}; ${reason}` : reason;
  }
  return out;
}
