// A form field's error is a <p> next to it, tied to it by aria-describedby, so a screen reader
// reads the reason with the field.

import { el } from "/web/shared/dom.js";

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
