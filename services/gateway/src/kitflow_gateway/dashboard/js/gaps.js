// "Gaps": per item (in its unit) or sector (in households), by region or cercle.
export async function showGaps() {}
