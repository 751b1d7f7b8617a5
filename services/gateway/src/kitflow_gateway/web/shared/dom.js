// DOM helpers shared by every page. Text goes in with textContent only, never as HTML: names,
// sites and document numbers typed by people cannot inject markup. An attribute whose value is
// undefined, null or false is left out; true sets it empty (hidden, required, ...).

export function el(tag, { text, className, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) {
    node.textContent = String(text);
  }
  if (className) {
    node.className = className;
  }
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  node.append(...children);
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}
