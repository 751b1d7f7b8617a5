// The dashboard's entry point: the language, sign-in, the views, the alerts badge, and errors
// shown with the API's detail (in the user's language: api.js sends Accept-Language).

import {
  chooseLanguage,
  languageSwitch,
  onLanguageChange,
  setLanguage,
  t,
} from "/web/shared/i18n.js";
import { showAlerts, updateAlertsBadge } from "./alerts.js";
import { api, forgetToken, signIn, token, whenUnauthenticated } from "./api.js";
import { showGaps } from "./gaps.js";
import { showMap } from "./map.js";
import { forgetPlans, setUpPlans, showPlans } from "./plans.js";
import { showStock } from "./stock.js";

const VIEWS = {
  gaps: showGaps,
  map: showMap,
  stock: showStock,
  plans: showPlans,
  alerts: showAlerts,
};

const errorBox = document.getElementById("error");

// error: an ApiError (or any Error) to show, or null to clear the message.
function report(error) {
  if (!error) {
    errorBox.hidden = true;
    errorBox.textContent = "";
    return;
  }
  errorBox.textContent = error.message;
  errorBox.hidden = false;
}

let currentView = "gaps";
let signedInNow = false;

async function show(view) {
  currentView = view;
  for (const button of document.querySelectorAll(".tabs button")) {
    if (button.dataset.view === view) {
      button.setAttribute("aria-current", "page");
    } else {
      button.removeAttribute("aria-current");
    }
  }
  for (const name of Object.keys(VIEWS)) {
    document.getElementById(`view-${name}`).hidden = name !== view;
  }
  try {
    await VIEWS[view](report);
    report(null);
  } catch (error) {
    report(error);
  }
  // The badge follows every view change, so a coordinator sees new alerts without looking.
  updateAlertsBadge().catch(() => {});
}

function showSession(visible) {
  document.getElementById("who").hidden = !visible;
  document.getElementById("sign-out").hidden = !visible;
}

function signedOut(message) {
  signedInNow = false;
  forgetToken();
  forgetPlans();
  document.getElementById("app").hidden = true;
  showSession(false);
  document.getElementById("login").hidden = false;
  report(message ? new Error(message) : null);
}

async function signedIn() {
  document.getElementById("login").hidden = true;
  document.getElementById("app").hidden = false;
  showSession(true);
  signedInNow = true;
  try {
    const me = await api("/v1/auth/me");
    document.getElementById("who").textContent = `${me.username} (${me.organisation})`;
  } catch (error) {
    report(error);
    return;
  }
  await show(currentView);
}

whenUnauthenticated((error) => signedOut(t("dash.sign_in_again", { detail: error.message })));

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await signIn(form.elements.username.value.trim(), form.elements.password.value);
    form.reset();
    report(null);
    await signedIn();
  } catch (error) {
    report(error);
  } finally {
    button.disabled = false;
  }
});

document.getElementById("sign-out").addEventListener("click", () => signedOut());

for (const button of document.querySelectorAll(".tabs button")) {
  button.addEventListener("click", () => show(button.dataset.view));
}
for (const button of document.querySelectorAll("[data-refresh]")) {
  button.addEventListener("click", () => show(button.dataset.refresh));
}
// Another module (an alert's link) opens a view with a `dashboard:show` event: { view }.
document.addEventListener("dashboard:show", (event) => show(event.detail.view));

setUpPlans(report);

// What a view drew from data (tables, the chart, the map) is drawn again in the new language.
onLanguageChange(() => {
  if (signedInNow) {
    show(currentView);
  }
});

await setLanguage(chooseLanguage(), { save: false });
languageSwitch(document.getElementById("language"));

if (token()) {
  signedIn();
}
