// Translation for every kitflow web page: the catalogues are JSON files next to this module
// (`i18n/fr.json`, `i18n/en.json`, one key per string), the language is the user's saved choice
// or else the first of the browser's languages we have (French when the browser asks for it),
// and numbers and dates follow the language's locale (`fr-ML`: 1 234,5 and 06/12/2026).
//
// In the page: `data-i18n="key"` translates an element's text, `data-i18n-attr="attr:key;..."`
// its attributes (aria-label, placeholder, title, content). In code: `t("key", { name: value })`.
// A key missing from the catalogue shows as itself and is remembered in `missingKeys()`, so the
// browser tests fail on it in either language.

export const LANGUAGES = ["fr", "en"];
const LOCALES = { fr: "fr-ML", en: "en-GB" };
const STORAGE_KEY = "kitflow.language";
// A page may name a smaller catalogue of its own (`<meta name="kitflow-catalogue"
// content="/partner/i18n/">`, served by the gateway with that page's keys only): every page's
// strings in one file would grow each page's first load with every other page's.
const OWN_CATALOGUE = document.querySelector('meta[name="kitflow-catalogue"]')?.content;
const CATALOGUE_URL = OWN_CATALOGUE
  ? new URL(OWN_CATALOGUE, document.baseURI)
  : new URL("./i18n/", import.meta.url);

let language = "en";
let catalogue = {};
const missing = new Set();
const listeners = [];

export function chooseLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(saved)) {
    return saved;
  }
  for (const wanted of navigator.languages || [navigator.language || ""]) {
    const base = wanted.toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) {
      return base;
    }
  }
  return "en";
}

export function currentLanguage() {
  return language;
}

export function locale() {
  return LOCALES[language];
}

// What the API is told (problem+json titles and details, PDFs), so a refusal reads the same in
// the page as in a script.
export function acceptLanguage() {
  return language === "fr" ? "fr-ML, fr;q=0.9, en;q=0.5" : "en, fr;q=0.5";
}

export function missingKeys() {
  return [...missing];
}

export function t(key, params = {}) {
  let text = catalogue[key];
  if (text === undefined) {
    missing.add(key);
    return key;
  }
  for (const [name, value] of Object.entries(params)) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attribute, key] = pair.split(":").map((part) => part.trim());
      node.setAttribute(attribute, t(key));
    }
  }
}

async function fetchCatalogue(lang) {
  const response = await fetch(new URL(`${lang}.json`, CATALOGUE_URL));
  if (!response.ok) {
    throw new Error(`catalogue ${lang}: HTTP ${response.status}`);
  }
  return response.json();
}

// Loads the catalogue, sets <html lang>, translates the page and tells the page's own code
// (which re-renders what it drew) through onLanguageChange.
export async function setLanguage(lang, { save = true } = {}) {
  const chosen = LANGUAGES.includes(lang) ? lang : "en";
  catalogue = await fetchCatalogue(chosen);
  language = chosen;
  if (save) {
    localStorage.setItem(STORAGE_KEY, chosen);
  }
  document.documentElement.lang = chosen;
  translatePage();
  for (const listener of listeners) {
    listener(chosen);
  }
}

export function onLanguageChange(listener) {
  listeners.push(listener);
}

// A <select> offering every language, kept in step with the current one.
export function languageSwitch(select) {
  select.value = language;
  select.addEventListener("change", () => setLanguage(select.value));
  onLanguageChange((lang) => {
    select.value = lang;
  });
}

export function formatNumber(value) {
  return new Intl.NumberFormat(locale()).format(value);
}

// A calendar date ("2026-12-06") stays that day whatever the device's time zone.
export function formatDate(isoDate) {
  if (!isoDate) {
    return "";
  }
  const [year, month, day] = isoDate.slice(0, 10).split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), {
    day: "2-digit",
    month: "2-digit",
    year: "numeric",
    timeZone: "UTC",
  }).format(new Date(Date.UTC(year, month - 1, day)));
}

export function formatDateTime(value) {
  if (!value) {
    return "";
  }
  return new Intl.DateTimeFormat(locale(), {
    day: "2-digit",
    month: "2-digit",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(value));
}

// An item's name in the current language, from the catalogue's name_fr / name_en.
export function itemName(item) {
  if (!item) {
    return "";
  }
  return (language === "fr" ? item.name_fr : item.name_en) || item.name_en || item.code;
}
