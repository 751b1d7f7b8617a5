// "Stock": per warehouse, then per sector (shelter, NFI, WASH, water), folded; filters by
// warehouse, sector and item; what needs attention first: items below their minimum and lots
// near expiry, in a list at the top and first within each group.

import { formatDate, formatNumber, onLanguageChange, t } from "/web/shared/i18n.js";
import { api } from "./api.js";
import { el } from "/web/shared/dom.js";
import { nameOfItem, reference } from "./reference.js";

// A lot expiring within this many days is "expiring" (the stock service's near-expiry signal
// uses the same order of magnitude).
const EXPIRING_WITHIN_DAYS = 90;
const DAY_MS = 86_400_000;
// The catalogue's categories, in the order the cluster reads them.
const SECTOR_NAMES = {
  shelter: () => t("stock.sector.shelter"),
  nfi: () => t("stock.sector.nfi"),
  "wash-hygiene": () => t("stock.sector.wash-hygiene"),
  water: () => t("stock.sector.water"),
};
const SECTORS = Object.keys(SECTOR_NAMES);

function sectorName(sector) {
  return SECTOR_NAMES[sector] ? SECTOR_NAMES[sector]() : sector;
}

let rows = [];
let built = false;
// The shell's message box, until the shell hands this view its own reporter (setUpStock).
let report = (error) => {
  const box = document.getElementById("error");
  box.textContent = error ? error.message : "";
  box.hidden = !error;
};

const byId = (id) => document.getElementById(id);

function expiringLots(balance, today) {
  const limit = today + EXPIRING_WITHIN_DAYS * DAY_MS;
  return balance.lots.filter((lot) => lot.expiry && lot.on_hand > 0 &&
    Date.parse(lot.expiry) <= limit);
}

// Lower is more urgent: low and expiring, low, expiring, the rest (then by item name).
function urgency(row) {
  return (row.low ? 0 : 2) + (row.expiring.length ? 0 : 1);
}

async function load() {
  const ref = await reference();
  const warehouses = [...ref.warehouses.values()].sort((a, b) => a.name.localeCompare(b.name));
  // One call per warehouse, in parallel: the stock service answers per warehouse.
  const stocks = await Promise.all(
    warehouses.map((w) => api(`/v1/warehouses/${encodeURIComponent(w.code)}/stock`)),
  );
  const today = Date.now();
  rows = warehouses.flatMap((warehouse, n) => stocks[n].items.map((balance) => ({
    warehouse,
    balance,
    item: nameOfItem(ref, balance.item_code),
    sector: ref.items.get(balance.item_code)?.category || "nfi",
    low: balance.low,
    expiring: expiringLots(balance, today),
  })));
}

function lotsText(row) {
  return row.expiring
    .map((lot) => t("stock.lot_expires", { lot: lot.lot, date: formatDate(lot.expiry),
      quantity: formatNumber(lot.on_hand) }))
    .join("; ");
}

function flags(row) {
  const out = [];
  if (row.low) {
    out.push(el("span", { className: "flag low", text: t("stock.flag_low",
      { minimum: formatNumber(row.balance.minimum) }) }));
  }
  if (row.expiring.length) {
    out.push(el("span", { className: "flag expiring", text: lotsText(row) }));
  }
  return out;
}

function number(value) {
  return el("td", { text: formatNumber(value), className: "number" });
}

function itemRow(row) {
  const b = row.balance;
  return el("tr", { attrs: { "data-item": b.item_code, "data-low": String(row.low),
    "data-expiring": String(row.expiring.length > 0) } }, [
    el("th", { attrs: { scope: "row" } }, [el("span", { text: row.item }), ...flags(row)]),
    number(b.available), number(b.reserved), number(b.on_hand), number(b.in_transit),
  ]);
}

function itemsTable(group) {
  return el("div", { className: "table-wrap" }, [
    el("table", { className: "stock-items" }, [
      el("thead", {}, [el("tr", {}, [t("stock.item"), t("stock.available"), t("stock.reserved"),
        t("stock.on_hand"), t("stock.in_transit")].map((text) =>
        el("th", { text, attrs: { scope: "col" } })))]),
      el("tbody", {}, group.map(itemRow)),
    ]),
  ]);
}

function filtered() {
  const form = byId("stock-filters");
  const warehouse = form.elements.warehouse.value;
  const sector = form.elements.sector.value;
  const search = form.elements.search.value.trim().toLowerCase();
  return rows.filter((row) => (!warehouse || row.warehouse.code === warehouse) &&
    (!sector || row.sector === sector) &&
    (!search || row.item.toLowerCase().includes(search) ||
      row.balance.item_code.toLowerCase().includes(search)));
}

function attention(shown) {
  const urgent = shown.filter((row) => row.low || row.expiring.length)
    .sort((a, b) => urgency(a) - urgency(b) || a.item.localeCompare(b.item));
  const list = el("ul", { className: "sentences", attrs: { id: "stock-attention" } },
    urgent.map((row) => el("li", { attrs: { "data-item": row.balance.item_code,
      "data-warehouse": row.warehouse.code } }, [
      el("strong", { text: t("stock.attention_item",
        { warehouse: row.warehouse.name, item: row.item }) }),
      " ", ...flags(row),
    ])));
  if (!urgent.length) list.append(el("li", { text: t("stock.attention_none") }));
  return [el("h3", { text: t("stock.attention") }), list];
}

// Folded, unless a filter narrowed the list: then what matched is shown open.
function groups(shown, open) {
  const fold = (className, attrs, children) => {
    const node = el("details", { className, attrs }, children);
    node.open = open;
    return node;
  };
  const out = [];
  const warehouses = [...new Map(shown.map((r) => [r.warehouse.code, r.warehouse])).values()];
  for (const warehouse of warehouses) {
    const mine = shown.filter((r) => r.warehouse.code === warehouse.code);
    const sectors = SECTORS.filter((s) => mine.some((r) => r.sector === s))
      .map((sector) => {
        const group = mine.filter((r) => r.sector === sector)
          .sort((a, b) => urgency(a) - urgency(b) || a.item.localeCompare(b.item));
        const urgent = group.filter((r) => urgency(r) < 3).length;
        return fold("fold sector", { "data-sector": sector }, [
          el("summary", { text: t("stock.sector_summary", { sector: sectorName(sector),
            count: group.length, urgent }) }),
          itemsTable(group),
        ]);
      });
    const urgent = mine.filter((r) => urgency(r) < 3).length;
    out.push(fold("fold warehouse card", { "data-warehouse": warehouse.code }, [
      el("summary", {}, [
        el("span", { className: "warehouse-name", text: warehouse.name }),
        " ",
        el("span", { className: "hint", text: t("stock.warehouse_summary",
          { count: mine.length, urgent }) }),
      ]),
      ...sectors,
    ]));
  }
  if (!out.length) out.push(el("p", { className: "hint", text: t("stock.none") }));
  return out;
}

function render() {
  const shown = filtered();
  const narrowed = shown.length < rows.length;
  byId("stock-attention-box").replaceChildren(...attention(shown));
  byId("stock-groups").replaceChildren(...groups(shown, narrowed));
}

function select(name, options) {
  return el("select", { attrs: { name } },
    options.map(([value, text]) => el("option", { text, attrs: { value } })));
}

function build(ref) {
  const field = (id, label, control) => {
    control.id = id;
    return el("div", { className: "field" }, [el("label", { text: label, attrs: { for: id } }),
      control]);
  };
  const any = ["", t("stock.filter_any")];
  const form = el("form", { className: "filters", attrs: { id: "stock-filters",
    role: "search" } }, [
    field("stock-warehouse", t("stock.filter_warehouse"), select("warehouse", [any,
      ...[...ref.warehouses.values()].map((w) => [w.code, w.name])])),
    field("stock-sector", t("stock.filter_sector"), select("sector",
      [any, ...SECTORS.map((s) => [s, sectorName(s)])])),
    field("stock-search", t("stock.filter_item"), el("input", { attrs: { name: "search",
      type: "search", maxlength: "64" } })),
  ]);
  form.addEventListener("input", render);
  form.addEventListener("submit", (event) => event.preventDefault());
  const refresh = el("button", { text: t("stock.refresh"), className: "refresh",
    attrs: { type: "button" } });
  refresh.addEventListener("click", () => showStock().catch(report));
  byId("view-stock").replaceChildren(
    el("div", { className: "view-head" }, [
      el("h2", { text: t("stock.heading"), attrs: { id: "stock-title" } }), refresh,
    ]),
    form,
    el("div", { attrs: { id: "stock-attention-box" } }),
    el("div", { attrs: { id: "stock-groups" } }),
  );
  built = true;
}

export async function showStock() {
  const ref = await reference();
  if (!built) build(ref);
  await load();
  render();
}

export function setUpStock(reportError) {
  report = reportError;
}

onLanguageChange(() => {
  built = false;
  if (byId("view-stock") && !byId("view-stock").hidden) showStock().catch(report);
});
