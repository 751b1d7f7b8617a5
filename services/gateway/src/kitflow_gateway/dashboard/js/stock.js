// "Stock": available, reserved and on hand per warehouse and item, from the stock service.

import { api } from "./api.js";
import { fillTable, row } from "./dom.js";

export async function showStock() {
  const warehouses = (await api("/v1/warehouses?limit=500")).items;
  // One call per warehouse, in parallel: the stock service answers per warehouse.
  const balances = await Promise.all(
    warehouses.map((w) => api(`/v1/warehouses/${encodeURIComponent(w.code)}/stock`)),
  );
  const rows = [];
  warehouses.forEach((warehouse, index) => {
    for (const item of balances[index].items) {
      rows.push(
        row([`${warehouse.name} (${warehouse.code})`, warehouse.admin1_pcode, item.item_code,
          item.available, item.reserved, item.on_hand, item.in_transit]),
      );
    }
  });
  fillTable(document.getElementById("stock-table"), rows, "No stock recorded yet.");
}
