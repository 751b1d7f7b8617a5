// Small DOM helpers. Text goes in with textContent only, never as HTML, so names typed by
// partners (sites, titles) cannot inject markup.

import { formatNumber, locale } from "/web/shared/i18n.js";

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

// Numbers follow the page's language (1 234 in French, 1,234 in English).
export function number(value) {
  return formatNumber(value);
}

export function percent(part, whole) {
  if (!(whole > 0)) {
    return "—";
  }
  return new Intl.NumberFormat(locale(), { style: "percent" }).format(
    Math.round((100 * part) / whole) / 100,
  );
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
