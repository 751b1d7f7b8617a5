// The partner portal: an organisation's information officer signs in, reports needs (one by one
// or from a file), follows them to plans and deliveries, sees what KoboToolbox sent, and finds
// how their developers call the API. Each section is a module exporting
// render(container, context); the router below opens the one the address names (#report, ...).
//
// A section's contract: render(container, context) draws into `container` (an empty <div>
// under the section's <h1>, which the router titles) each time the section is opened;
// `context` is { me: /v1/auth/me's answer (username, organisation, roles), showError(text),
// showProblem(error) } (the page's alert box). On a language change the router calls the
// module's relabel(container, context) if it exports one (a form that must keep what was
// typed), else render() again on an emptied container. Calls go through ./api.js (api() for
// JSON with the token, Accept-Language and an Idempotency-Key on changes; ApiError.fields maps
// "population.households" to the service's reason), /web/shared/dom.js (el(), byId()) and
// ./field-errors.js (showFieldErrors()).
// Keys of the catalogues start with "partner.", sorted, the same in fr.json and en.json.

import {
  chooseLanguage,
  languageSwitch,
  onLanguageChange,
  setLanguage,
  t,
} from "/web/shared/i18n.js";
import { api, ApiError, forgetToken, NetworkError, signIn, token, whenUnauthenticated } from "./api.js";
import { byId } from "/web/shared/dom.js";
import * as developers from "./developers.js";
import * as kobo from "./kobo.js";
import * as needs from "./needs.js";
import * as plans from "./plans.js";
import * as report from "./report.js";
import * as upload from "./upload.js";

// In the navigation's order; the first is where a signed-in partner lands.
const SECTIONS = {
  report: { module: report, label: "partner.nav.report" },
  upload: { module: upload, label: "partner.nav.upload" },
  needs: { module: needs, label: "partner.nav.needs" },
  plans: { module: plans, label: "partner.nav.plans" },
  kobo: { module: kobo, label: "partner.nav.kobo" },
  developers: { module: developers, label: "partner.nav.developers" },
};
const FIRST = "report";

const state = { me: null, section: null };

// ---- messages --------------------------------------------------------------------------------

function showError(message) {
  const box = byId("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function showProblem(error) {
  showError(error instanceof NetworkError ? t("partner.error.offline") : error.message);
}

// What every section is given: who is signed in, and the page's message box.
function context() {
  return { me: state.me, showError, showProblem };
}

// ---- sign-in ---------------------------------------------------------------------------------

function showSignIn(again = false) {
  state.me = null;
  byId("app").hidden = true;
  byId("login").hidden = false;
  byId("login-again").hidden = !again;
}

async function startSession() {
  state.me = await api("/v1/auth/me");
  byId("who").textContent = `${state.me.username} (${state.me.organisation})`;
  byId("login").hidden = true;
  byId("app").hidden = false;
  await route();
}

async function onSignIn(event) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await signIn(form.username.value.trim(), form.password.value);
    form.password.value = "";
    showError(null);
    await startSession();
  } catch (error) {
    showProblem(error);
  } finally {
    button.disabled = false;
  }
}

function signOut() {
  forgetToken();
  showError(null);
  showSignIn();
}

// ---- router ----------------------------------------------------------------------------------

function sectionOf(hash) {
  const name = hash.replace(/^#/, "").split("/")[0];
  return name in SECTIONS ? name : FIRST;
}

async function route({ focus = false } = {}) {
  if (!state.me) {
    return;
  }
  const name = sectionOf(location.hash);
  const section = SECTIONS[name];
  state.section = name;
  for (const link of document.querySelectorAll(".sections a")) {
    if (link.dataset.view === name) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
  const title = byId("view-title");
  title.dataset.i18n = section.label;
  title.textContent = t(section.label);
  document.title = `${t(section.label)} · ${t("partner.title")}`;
  const body = byId("view-body");
  body.replaceChildren();
  body.dataset.section = name;
  showError(null);
  try {
    await section.module.render(body, context());
  } catch (error) {
    showProblem(error);
  }
  if (focus) {
    // A keyboard or screen-reader user lands on the section they opened.
    title.focus();
  }
}

// A section whose form would lose what was typed relabels itself (its labels carry data-i18n,
// which the translation module updates); the others are drawn again.
async function relabel() {
  const section = SECTIONS[state.section || FIRST];
  document.title = `${t(section.label)} · ${t("partner.title")}`;
  if (!state.me || !state.section) {
    return;
  }
  const { module } = section;
  const body = byId("view-body");
  try {
    if (module.relabel) {
      await module.relabel(body, context());
    } else {
      body.replaceChildren();
      await module.render(body, context());
    }
  } catch (error) {
    showProblem(error);
  }
}

// ---- start -----------------------------------------------------------------------------------

async function start() {
  await setLanguage(chooseLanguage(), { save: false });
  languageSwitch(byId("language"));
  onLanguageChange(relabel);
  byId("login-form").addEventListener("submit", onSignIn);
  byId("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", () => route({ focus: true }));
  whenUnauthenticated(() => {
    forgetToken();
    showSignIn(true);
  });
  if (!token()) {
    showSignIn();
    return;
  }
  try {
    await startSession();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      showSignIn();
      showProblem(error);
    }
  }
}

start();
