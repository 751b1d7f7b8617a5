// Text goes in with textContent only, never as HTML: names typed by partners cannot inject
// markup. A form field's error is a <p> next to it, tied to it by aria-describedby.

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

// Clears what a previous answer marked, then shows `fields` (name -> reason) next to the
// elements carrying data-field="name"; returns the reasons no field of the form claimed.
export function showFieldErrors(form, fields) {
  for (const node of form.querySelectorAll(".field-error[data-for]")) {
    node.remove();
  }
  for (const node of form.querySelectorAll("[aria-invalid]")) {
    node.removeAttribute("aria-invalid");
    node.removeAttribute("aria-describedby");
  }
  const unclaimed = [];
  for (const [name, reason] of Object.entries(fields)) {
    const field = bestField(form, name);
    if (!field) {
      unclaimed.push(`${name}: ${reason}`);
      continue;
    }
    const id = `error-${name.replaceAll(/[^a-z0-9]/gi, "-")}`;
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", id);
    field.after(el("p", { text: reason, className: "field-error", attrs: { id, "data-for": name } }));
  }
  return unclaimed;
}

// The field itself, or the closest one up its path ("items.0.quantity" -> "items.0" -> "items").
function bestField(form, name) {
  const parts = name.split(".");
  while (parts.length) {
    const field = form.querySelector(`[data-field="${CSS.escape(parts.join("."))}"]`);
    if (field) {
      return field;
    }
    parts.pop();
  }
  return null;
}
