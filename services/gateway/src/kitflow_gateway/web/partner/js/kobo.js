// Filled in by the portal's second part (branch p15-portal-b). The router calls
// render(container, context) each time the section is opened or the language changes.

export async function render(container, context) {}
