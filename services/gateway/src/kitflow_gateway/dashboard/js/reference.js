// What every view names things by: the gazetteer's regions and cercles (the needs service's
// reporting vintage), the catalogue's items (names in the user's language, sectors) and the
// warehouses. Read once per sign-in: they change rarely, and every view needs them.

import { itemName, t } from "/web/shared/i18n.js";
import { api } from "./api.js";

export const SECTORS = ["shelter", "nfi", "wash-hygiene", "water"];

const SECTOR_LABELS = {
  shelter: () => t("gaps.sector.shelter"),
  nfi: () => t("gaps.sector.nfi"),
  "wash-hygiene": () => t("gaps.sector.wash_hygiene"),
  water: () => t("gaps.sector.water"),
};

export function sectorLabel(sector) {
  return SECTOR_LABELS[sector] ? SECTOR_LABELS[sector]() : t("gaps.sector.unknown");
}

let loaded = null;

export function forgetReference() {
  loaded = null;
}

async function everyPage(path) {
  const items = [];
  for (let offset = 0; ; offset += 500) {
    const page = await api(`${path}?limit=500&offset=${offset}`);
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0) {
      return items;
    }
  }
}

async function load() {
  const [gazetteer, items, warehouses] = await Promise.all([
    api("/v1/reference/gazetteer"),
    everyPage("/v1/items"),
    everyPage("/v1/warehouses"),
  ]);
  return {
    // pcode -> name, and pcode -> { name, admin1 }, in the gazetteer's order.
    regions: new Map(gazetteer.admin1.map((a) => [a.pcode, a.name])),
    cercles: new Map(gazetteer.admin2.map((a) => [a.pcode, { name: a.name, admin1: a.parent }])),
    items: new Map(items.map((item) => [item.code, item])),
    warehouses: new Map(warehouses.map((w) => [w.code, w])),
  };
}

export async function reference() {
  if (!loaded) {
    loaded = load().catch((error) => {
      loaded = null;
      throw error;
    });
  }
  return loaded;
}

// "Mopti (ML05)": the name when the gazetteer knows the code, the code alone otherwise.
export function placeName(ref, pcode) {
  if (!pcode) {
    return "";
  }
  const name = ref.regions.get(pcode) ?? ref.cercles.get(pcode)?.name;
  return name ? `${name} (${pcode})` : pcode;
}

// The bare name, for where the code is shown beside it.
export function nameOfPlace(ref, pcode) {
  return ref.regions.get(pcode) ?? ref.cercles.get(pcode)?.name ?? (pcode || "");
}

export function nameOfItem(ref, code) {
  const item = ref.items.get(code);
  return item ? itemName(item) : code;
}

export function nameOfWarehouse(ref, code) {
  return ref.warehouses.get(code)?.name || code;
}

export function itemLabel(ref, code) {
  const item = ref.items.get(code);
  return item ? `${itemName(item)} (${code})` : code;
}

// A <select>'s options: the "all" choice first, then [value, label] pairs; keeps the choice.
export function fillSelect(select, allLabel, pairs) {
  const chosen = select.value;
  const options = [["", allLabel], ...pairs].map(([value, label]) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    return option;
  });
  select.replaceChildren(...options);
  if ([...select.options].some((o) => o.value === chosen)) {
    select.value = chosen;
  }
}
