// Drawn by the router when the section opens.

export async function render(container, context) {}
