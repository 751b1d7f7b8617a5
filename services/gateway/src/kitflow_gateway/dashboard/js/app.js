// The dashboard's entry point: sign-in, the three views, errors shown with the API's detail.

import { api, forgetToken, signIn, token, whenUnauthenticated } from "./api.js";
import { showNeeds } from "./needs.js";
import { forgetPlans, setUpPlans, showPlans } from "./plans.js";
import { showStock } from "./stock.js";

const VIEWS = { needs: showNeeds, stock: showStock, plans: showPlans };

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

let currentView = "needs";

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
    await VIEWS[view]();
    report(null);
  } catch (error) {
    report(error);
  }
}

function signedOut(message) {
  forgetToken();
  forgetPlans();
  document.getElementById("app").hidden = true;
  document.getElementById("session").hidden = true;
  document.getElementById("login").hidden = false;
  report(message ? new Error(message) : null);
}

async function signedIn() {
  document.getElementById("login").hidden = true;
  document.getElementById("app").hidden = false;
  document.getElementById("session").hidden = false;
  try {
    const me = await api("/v1/auth/me");
    document.getElementById("who").textContent = `${me.username} (${me.organisation})`;
  } catch (error) {
    report(error);
    return;
  }
  await show(currentView);
}

whenUnauthenticated((error) => signedOut(`Please sign in again: ${error.message}`));

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

setUpPlans(report);

if (token()) {
  signedIn();
}
