// The dashboard's table helper (el() is the pages' shared one).

import { el } from "/web/shared/dom.js";

export function fillTable(table, rows, emptyMessage) {
  const body = table.tBodies[0];
  body.replaceChildren();
  if (rows.length === 0) {
    const columns = table.tHead.rows[0].cells.length;
    body.append(el("tr", {}, [el("td", { text: emptyMessage, className: "empty",
      attrs: { colspan: String(columns) } })]));
    return;
  }
  body.append(...rows);
}
