// Reference data the plan and stock views name things with: the catalogue (item names in the
// user's language, sectors), warehouses and the gazetteer's regions and cercles.
// Read once per sign-in: they change rarely, and every view needs them.

import { itemName } from "/web/shared/i18n.js";
import { api } from "./api.js";

let loading = null;

async function everyPage(path) {
  const items = [];
  for (let offset = 0; ; offset += 500) {
    const page = await api(`${path}${path.includes("?") ? "&" : "?"}limit=500&offset=${offset}`);
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0) {
      return items;
    }
  }
}

async function load() {
  const [items, warehouses, gazetteer] = await Promise.all([
    everyPage("/v1/items"),
    everyPage("/v1/warehouses"),
    api("/v1/reference/gazetteer"),
  ]);
  return {
    items: new Map(items.map((x) => [x.code, x])),
    warehouses: new Map(warehouses.map((x) => [x.code, x])),
    regions: gazetteer.admin1,
    cercles: gazetteer.admin2,
    places: new Map([...gazetteer.admin1, ...gazetteer.admin2].map((x) => [x.pcode, x.name])),
  };
}

export async function reference() {
  loading ??= load().catch((error) => {
    loading = null;
    throw error;
  });
  return loading;
}

export function forgetReference() {
  loading = null;
}

export function nameOfItem(ref, code) {
  const item = ref.items.get(code);
  return item ? itemName(item) : code;
}

export function nameOfWarehouse(ref, code) {
  return ref.warehouses.get(code)?.name || code;
}

export function nameOfPlace(ref, pcode) {
  return ref.places.get(pcode) || pcode || "";
}
