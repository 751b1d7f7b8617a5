// "Map": Mali's regions and cercles shaded by the gap.
export async function showMap() {}
