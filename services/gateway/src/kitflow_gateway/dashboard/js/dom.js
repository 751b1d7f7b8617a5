// Small DOM helpers. Text goes in with textContent only, never as HTML, so names typed by
// partners (sites, titles) cannot inject markup.

export function el(tag, { text, className, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) {
    node.textContent = String(text);
  }
  if (className) {
    node.className = className;
  }
  for (const [name, value] of Object.entries(attrs || {})) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child);
  }
  return node;
}

const numberFormat = new Intl.NumberFormat("en-GB");

export function number(value) {
  return numberFormat.format(value);
}

export function percent(part, whole) {
  return whole > 0 ? `${Math.round((100 * part) / whole)}%` : "—";
}

// cells: strings, or numbers (right-aligned and formatted).
export function row(cells) {
  return el(
    "tr",
    {},
    cells.map((cell) =>
      typeof cell === "number"
        ? el("td", { text: number(cell), className: "number" })
        : el("td", { text: cell ?? "" }),
    ),
  );
}

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
