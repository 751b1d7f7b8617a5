// The gazetteer in the form: region, then cercle, then commune, and a search by name that
// ignores accents, case and punctuation ("Menaka" finds "Ménaka", "djenne" finds "Djenné"),
// as the needs service compares names.

export function fold(text) {
  return String(text || "")
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, " ")
    .trim();
}

// Regions and cercles as one list of places to search: { pcode, name, level, region }.
export function placesOf(gazetteer) {
  const regions = Object.fromEntries(gazetteer.admin1.map((a) => [a.pcode, a]));
  return [
    ...gazetteer.admin1.map((a) => ({ ...a, level: 1, region: a })),
    ...gazetteer.admin2.map((a) => ({ ...a, level: 2, region: regions[a.parent] })),
  ].map((place) => ({
    ...place,
    words: [place.name, ...place.aliases].map(fold),
  }));
}

// Places whose name (or alias) starts with, or contains a word starting with, what was typed;
// a P-code typed as such finds its place. Cercles first (what a need is reported for).
export function search(places, typed, limit = 8) {
  const wanted = fold(typed);
  if (wanted.length < 2) {
    return [];
  }
  const code = wanted.replace(/ /g, "");
  const found = places.filter(
    (p) =>
      p.pcode.toLowerCase() === code ||
      p.words.some((w) => w.startsWith(wanted) || w.includes(` ${wanted}`)),
  );
  found.sort((a, b) => b.level - a.level || a.name.localeCompare(b.name));
  return found.slice(0, limit);
}
