// For your developers: what an API key is for, the exact calls (with this server's address) a
// script makes with X-API-Key and KoboToolbox's REST Service with HTTP Basic, and the signed-in
// user's own keys (any signed-in user may issue, list and revoke their own; a key carries its
// owner's organisation and roles, and is shown once).

import { formatDateTime, t } from "/web/shared/i18n.js";
import { ApiError, api, newKey } from "./api.js";
import { el } from "/web/shared/dom.js";
import { showFieldErrors } from "./field-errors.js";

const state = { keys: [], created: null, me: null };

function hint(key) {
  return el("p", { text: t(key), className: "hint" });
}

function block(text, id) {
  return el("pre", { attrs: { id, tabindex: "0" } }, [el("code", { text })]);
}

// ---- the calls -------------------------------------------------------------------------------

function calls(origin, organisation) {
  return {
    list: `curl -H "X-API-Key: $KITFLOW_KEY" \\\n  "${origin}/v1/needs?status=submitted"`,
    report:
      `curl -X POST -H "X-API-Key: $KITFLOW_KEY" \\\n  -H "Content-Type: application/json" ` +
      `-H "Idempotency-Key: $(uuidgen)" \\\n  --data @need.json ${origin}/v1/needs`,
    upload:
      `curl -X POST -H "X-API-Key: $KITFLOW_KEY" -H "Content-Type: text/csv" \\\n` +
      `  --data-binary @needs.csv "${origin}/v1/needs/imports?submit=false"`,
    export: `curl -H "X-API-Key: $KITFLOW_KEY" -o needs.csv \\\n  ${origin}/v1/needs/export.csv`,
    kobo:
      `curl -u "${organisation}:$KITFLOW_KEY" -H "Content-Type: application/json" \\\n` +
      `  --data @submission.json ${origin}/v1/integrations/kobo/submissions`,
  };
}

function explain(container) {
  const origin = location.origin;
  const organisation = state.me.organisation;
  const c = calls(origin, organisation);
  container.append(
    el("section", { attrs: { id: "dev-explain", "aria-labelledby": "dev-keys-title" } }, [
      el("h2", { text: t("partner.dev.keys_title"), attrs: { id: "dev-keys-title" } }),
      el("p", { text: t("partner.dev.keys_what", { organisation }) }),
      el("p", { text: t("partner.dev.keys_secret") }),
      el("h2", { text: t("partner.dev.api_title") }),
      hint("partner.dev.api_hint"),
      block(`export KITFLOW_KEY=kf_...`, "call-export-key"),
      el("p", { text: t("partner.dev.call_list") }),
      block(c.list, "call-list"),
      el("p", { text: t("partner.dev.call_report") }),
      block(c.report, "call-report"),
      el("p", { text: t("partner.dev.call_upload") }),
      block(c.upload, "call-upload"),
      el("p", { text: t("partner.dev.call_export") }),
      block(c.export, "call-export"),
      el("p", {}, [
        el("span", { text: `${t("partner.dev.docs")} ` }),
        el("a", { text: `${origin}/docs`, attrs: { href: "/docs" } }),
      ]),
      el("h2", { text: t("partner.dev.kobo_title") }),
      el("p", { text: t("partner.dev.kobo_hint") }),
      el("dl", { className: "settings" }, [
        el("dt", { text: t("partner.dev.kobo_url") }),
        el("dd", {}, [el("code", { text: `${origin}/v1/integrations/kobo/submissions`, attrs: { id: "kobo-url" } })]),
        el("dt", { text: t("partner.dev.kobo_auth") }),
        el("dd", { text: t("partner.dev.kobo_basic", { organisation }) }),
      ]),
      el("p", { text: t("partner.dev.kobo_test") }),
      block(c.kobo, "call-kobo"),
    ]),
  );
}

// ---- the keys --------------------------------------------------------------------------------

async function loadKeys() {
  state.keys = (await api("/v1/api-keys?limit=100")).items;
}

function drawKeys(context) {
  const box = document.getElementById("dev-key-list");
  if (!box) {
    return;
  }
  if (!state.keys.length) {
    box.replaceChildren(hint("partner.dev.no_keys"));
    return;
  }
  box.replaceChildren(
    el("div", { className: "scroll" }, [
      el("table", { attrs: { id: "keys" } }, [
        el("caption", { text: t("partner.dev.your_keys"), className: "visually-hidden" }),
        el("thead", {}, [
          el("tr", {}, [
            el("th", { text: t("partner.dev.key_name"), attrs: { scope: "col" } }),
            el("th", { text: t("partner.dev.key_prefix"), attrs: { scope: "col" } }),
            el("th", { text: t("partner.dev.key_created"), attrs: { scope: "col" } }),
            el("th", { text: t("partner.dev.key_expires"), attrs: { scope: "col" } }),
            el("th", { text: t("partner.dev.key_action"), attrs: { scope: "col" } }),
          ]),
        ]),
        el(
          "tbody",
          {},
          state.keys.map((key) => {
            const revoke = el("button", {
              text: t("partner.dev.revoke"),
              className: "secondary",
              attrs: { type: "button", "aria-label": t("partner.dev.revoke_named", { name: key.name }) },
            });
            revoke.addEventListener("click", () => revokeKey(key, revoke, context));
            return el("tr", { attrs: { "data-key": key.key_id } }, [
              el("td", { text: key.name }),
              el("td", {}, [el("code", { text: `${key.prefix}_…` })]),
              el("td", { text: formatDateTime(key.created_at) }),
              el("td", { text: key.expires_at ? formatDateTime(key.expires_at) : t("partner.dev.never") }),
              el("td", {}, [revoke]),
            ]);
          }),
        ),
      ]),
    ]),
  );
}

async function revokeKey(key, button, context) {
  if (!window.confirm(t("partner.dev.revoke_confirm", { name: key.name }))) {
    return;
  }
  button.disabled = true;
  try {
    await api(`/v1/api-keys/${encodeURIComponent(key.key_id)}`, { method: "DELETE" });
    await loadKeys();
    drawKeys(context);
  } catch (error) {
    button.disabled = false;
    context.showProblem(error);
  }
}

function drawCreated() {
  const box = document.getElementById("dev-created");
  if (!box) {
    return;
  }
  if (!state.created) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(
    el("p", { text: t("partner.dev.created", { name: state.created.name }), className: "ok" }),
    el("p", { text: t("partner.dev.created_once") }),
    block(`export KITFLOW_KEY=${state.created.key}`, "new-key"),
  );
}

async function createKey(event, context) {
  event.preventDefault();
  const form = event.target;
  const name = form.querySelector("#key-name").value.trim();
  const expires = form.querySelector("#key-expires").value;
  const body = { name };
  if (expires) {
    // The end of that day in the user's time zone.
    body.expires_at = new Date(`${expires}T23:59:59`).toISOString();
  }
  try {
    state.created = await api("/v1/api-keys", { method: "POST", body, key: newKey() });
    showFieldErrors(form, {});
    form.reset();
    await loadKeys();
  } catch (error) {
    if (!(error instanceof ApiError)) {
      context.showProblem(error);
      return;
    }
    const unclaimed = showFieldErrors(form, error.fields);
    if (unclaimed.length || !Object.keys(error.fields).length) {
      context.showError(error.message);
    }
    return;
  }
  drawCreated();
  drawKeys(context);
}

function keysSection(context) {
  const form = el("form", { attrs: { id: "key-form", novalidate: true } }, [
    el("label", { text: t("partner.dev.key_name_label"), attrs: { for: "key-name", "data-i18n": "partner.dev.key_name_label" } }),
    el("input", { attrs: { id: "key-name", "data-field": "name", maxlength: "100", placeholder: t("partner.dev.key_name_example") } }),
    el("label", { text: t("partner.dev.key_expires_label"), attrs: { for: "key-expires", "data-i18n": "partner.dev.key_expires_label" } }),
    el("input", { attrs: { id: "key-expires", type: "date", "data-field": "expires_at" } }),
    el("button", { text: t("partner.dev.create"), attrs: { type: "submit", "data-i18n": "partner.dev.create" } }),
  ]);
  form.addEventListener("submit", (event) => createKey(event, context));
  return el("section", { attrs: { "aria-labelledby": "dev-your-keys" } }, [
    el("h2", { text: t("partner.dev.your_keys"), attrs: { id: "dev-your-keys" } }),
    el("p", { text: t("partner.dev.who_may", { user: state.me.username }) }),
    form,
    el("div", { attrs: { id: "dev-created", "aria-live": "polite" } }),
    el("div", { attrs: { id: "dev-key-list" } }),
  ]);
}

// ---- the section -----------------------------------------------------------------------------

export async function render(container, context) {
  state.me = context.me;
  state.created = null;
  explain(container);
  container.append(keysSection(context));
  await loadKeys();
  drawKeys(context);
}

// Drawn again in the new language, keeping a key just created on screen (it is shown once).
export async function relabel(container, context) {
  const created = state.created;
  container.replaceChildren();
  await render(container, context);
  state.created = created;
  drawCreated();
}
