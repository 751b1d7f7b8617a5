// The warehouse app: opens from the browser's own copy (service worker and IndexedDB) with or
// without a network, records movements into a queue that is sent when the network returns, and
// shows the warehouse's stock as last synced.

import {
  chooseLanguage,
  formatDateTime,
  itemName,
  languageSwitch,
  onLanguageChange,
  setLanguage,
  t,
} from "/web/shared/i18n.js";
import { ApiError, NetworkError, call, getJson, problemOf, signIn, useToken } from "./api.js";
import { forget, keep, kept } from "./db.js";
import { el, byId } from "/web/shared/dom.js";
import { actionOptions, KINDS, kindLabel, reasonOptions, summary } from "./movements.js";
import { correct, discard, onQueue, queued, save, syncNow } from "./queue.js";
import { renderCard, renderIncoming, renderStock } from "./stock.js";

const RETRY_EVERY_MS = 15_000;
const state = {
  session: null, // { token, me, warehouses: [{code, name}], warehouse }
  items: {}, // by code
  view: "stock",
  correcting: null, // the refused record being corrected
  cardItem: null,
};

// ---- messages --------------------------------------------------------------------------------

function report(message) {
  const box = byId("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function reportError(error) {
  if (error instanceof NetworkError) {
    report(t("error.offline"));
  } else {
    report(error.message);
  }
}

// ---- status line -----------------------------------------------------------------------------

async function showStatus() {
  byId("network").textContent = navigator.onLine ? t("status.online") : t("status.offline");
  const last = await kept("lastSync");
  byId("last-sync").textContent = last
    ? t("status.last_sync", { time: formatDateTime(last) })
    : t("status.never_synced");
  const waiting = (await queued()).filter((r) => r.state === "waiting").length;
  byId("pending").textContent = t("status.pending", { count: waiting });
}

// ---- session ---------------------------------------------------------------------------------

function warehouse() {
  return state.session.warehouse;
}

async function warehousesFor(me) {
  const page = await getJson("/v1/warehouses?limit=500");
  const all = page.items.map((w) => ({ code: w.code, name: w.name }));
  if (me.warehouses.length > 0) {
    return all.filter((w) => me.warehouses.includes(w.code));
  }
  return all;
}

async function startSession(token) {
  useToken(token);
  const me = await getJson("/v1/auth/me");
  const warehouses = await warehousesFor(me);
  const previous = state.session?.me.username === me.username ? state.session.warehouse : null;
  state.session = {
    token,
    me,
    warehouses,
    allWarehouses: (await getJson("/v1/warehouses?limit=500")).items.map((w) => w.code),
    warehouse: previous || warehouses[0]?.code || null,
  };
  await keep("session", state.session);
}

function showSignIn(again) {
  byId("login").hidden = false;
  byId("login-again").hidden = !again;
  byId("app").hidden = true;
}

async function showApp() {
  byId("login").hidden = true;
  byId("app").hidden = false;
  const { me, warehouses } = state.session;
  byId("who").textContent = `${me.username} (${me.organisation})`;
  const select = byId("warehouse");
  select.replaceChildren(
    ...warehouses.map((w) => el("option", { text: `${w.name} (${w.code})`, attrs: { value: w.code } })),
  );
  select.value = warehouse() || "";
  await show(state.view);
}

// The token expired or was revoked: the queue stays where it is; signing in again resumes it.
async function signedOutByServer() {
  if (state.session) {
    state.session.token = null;
    await keep("session", state.session);
  }
  useToken(null);
  showSignIn(true);
}

// ---- data ------------------------------------------------------------------------------------

// Everything the views show; after a sync, only the stock (what the movements changed), so a
// movement sent over 2G costs its own request and one small read.
async function refresh({ everything = true } = {}) {
  if (!state.session?.token || !warehouse()) {
    return;
  }
  const code = encodeURIComponent(warehouse());
  try {
    const reads = [getJson(`/v1/warehouses/${code}/stock`)];
    if (everything) {
      reads.push(
        getJson("/v1/items?limit=500"),
        getJson(`/v1/warehouses/${code}/reservations?status=active`),
      );
    }
    const [stock, catalogue, reservations] = await Promise.all(reads);
    if (everything) {
      state.items = Object.fromEntries(catalogue.items.map((item) => [item.code, item]));
      await keep("items", state.items);
      await keep(`reservations:${warehouse()}`, reservations);
    }
    await keep(`stock:${warehouse()}`, stock);
    await keep("lastSync", new Date().toISOString());
    report(null);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      await signedOutByServer();
    } else if (!(error instanceof NetworkError)) {
      reportError(error);
    }
  }
  await show(state.view);
}

async function sync() {
  if (!state.session?.token) {
    return;
  }
  const sent = await syncNow();
  if (sent) {
    await refresh({ everything: false });
  } else {
    await render();
  }
}

// ---- views -----------------------------------------------------------------------------------

const VIEWS = {
  stock: renderStockView,
  record: renderRecordView,
  queue: renderQueueView,
  incoming: renderIncomingView,
};

async function show(view) {
  state.view = view;
  for (const button of document.querySelectorAll(".tabs button")) {
    if (button.dataset.view === view) {
      button.setAttribute("aria-current", "page");
    } else {
      button.removeAttribute("aria-current");
    }
  }
  for (const name of Object.keys(VIEWS)) {
    byId(`view-${name}`).hidden = name !== view;
  }
  await showStatus();
  if (state.session && !byId("app").hidden) {
    await VIEWS[view]();
  }
}

async function render() {
  await showStatus();
  // The form is drawn when it is opened (or the language changes), never under the thumb of
  // someone typing in it.
  if (state.session && !byId("app").hidden && state.view !== "record") {
    await VIEWS[state.view]();
  }
}

async function renderStockView() {
  const stock = await kept(`stock:${warehouse()}`);
  const last = await kept("lastSync");
  byId("stock-as-of").textContent = last
    ? t("stock.as_of", { time: formatDateTime(last) })
    : t("status.never_synced");
  renderStock(byId("stock-list"), stock, state.items, openCard);
  if (state.cardItem) {
    await showCard(state.cardItem);
  }
}

async function showCard(itemCode) {
  const cacheKey = `card:${warehouse()}:${itemCode}`;
  let card = await kept(cacheKey);
  byId("card-title").textContent = t("card.title", {
    item: itemName(state.items[itemCode]) || itemCode,
  });
  byId("card-panel").hidden = false;
  renderCard(byId("card-table"), card);
  return card;
}

async function openCard(itemCode) {
  state.cardItem = itemCode;
  const cacheKey = `card:${warehouse()}:${itemCode}`;
  try {
    const path = `/v1/warehouses/${encodeURIComponent(warehouse())}/stock/${encodeURIComponent(itemCode)}/card?limit=200`;
    await keep(cacheKey, await getJson(path));
  } catch (error) {
    if (!(error instanceof NetworkError)) {
      reportError(error);
    }
  }
  await showCard(itemCode);
  byId("card-panel").scrollIntoView();
}

// ---- recording -------------------------------------------------------------------------------

function options(pairs, { blank = true } = {}) {
  const list = pairs.map(([value, text]) => el("option", { text, attrs: { value } }));
  return blank ? [el("option", { text: t("field.choose"), attrs: { value: "" } }), ...list] : list;
}

async function choicesFor(type) {
  const items = Object.values(state.items);
  switch (type) {
    case "item":
      return items.map((i) => [i.code, `${itemName(i)} (${i.code})`]);
    case "kit":
      return items.filter((i) => i.is_kit).map((i) => [i.code, `${itemName(i)} (${i.code})`]);
    case "reason":
      return reasonOptions();
    case "action":
      return actionOptions();
    case "warehouse":
      return (state.session.allWarehouses || [])
        .filter((code) => code !== warehouse())
        .map((code) => [code, code]);
    case "transfer": {
      const stock = await kept(`stock:${warehouse()}`);
      return (stock ? stock.transfers_in_transit : []).map((id) => [id, id]);
    }
    default:
      return null;
  }
}

async function renderFields(kind, values = {}) {
  const rows = [];
  for (const field of KINDS[kind]) {
    const id = `f-${field.name}`;
    const label = el("label", { text: t(field.label), attrs: { for: id } });
    const choices = await choicesFor(field.type);
    let input;
    if (choices) {
      input = el("select", { attrs: { id, name: field.name, required: field.required } },
        options(choices));
      if (values[field.name] && !choices.some(([v]) => v === values[field.name])) {
        input.append(el("option", { text: values[field.name], attrs: { value: values[field.name] } }));
      }
    } else {
      input = el("input", {
        attrs: {
          id,
          name: field.name,
          type: field.type,
          required: field.required,
          min: field.min,
          inputmode: field.type === "number" ? "numeric" : undefined,
          step: field.type === "number" ? "1" : undefined,
        },
      });
    }
    const defaults = { owner: state.session.me.organisation };
    input.value = values[field.name] ?? defaults[field.name] ?? "";
    const problem = el("p", { className: "field-error", attrs: { id: `${id}-error` } });
    problem.hidden = true;
    input.setAttribute("aria-describedby", problem.id);
    rows.push(el("div", { className: "field" }, [label, input, problem]));
  }
  // In one go, after every await: two renders racing must not interleave their fields.
  byId("fields").replaceChildren(...rows);
}

async function renderRecordView() {
  const kindSelect = byId("kind");
  const chosen = kindSelect.value || "receipt";
  kindSelect.replaceChildren(
    ...Object.keys(KINDS).map((kind) => el("option", { text: kindLabel(kind), attrs: { value: kind } })),
  );
  kindSelect.value = state.correcting ? state.correcting.kind : chosen;
  kindSelect.disabled = Boolean(state.correcting);
  const preset = byId("fields").dataset.values;
  const current = preset ? JSON.parse(preset) : formValues();
  await renderFields(kindSelect.value, state.correcting ? state.correcting.fields : current);
  byId("record-cancel").hidden = !state.correcting;
}

function formValues() {
  const values = {};
  for (const input of byId("fields").querySelectorAll("input, select")) {
    values[input.name] = input.value.trim();
  }
  return values;
}

// Checked here so a mistake is fixed while the storekeeper still has the goods in front of them.
function checkFields(kind, values) {
  let valid = true;
  for (const field of KINDS[kind]) {
    const input = byId(`f-${field.name}`);
    const problem = byId(`f-${field.name}-error`);
    let message = "";
    const value = values[field.name];
    if (field.required && value === "") {
      message = t("form.required");
    } else if (field.type === "number" && value !== "") {
      const number = Number(value);
      if (!Number.isInteger(number) || number < (field.min ?? 0)) {
        message = t("form.whole_number", { min: field.min ?? 0 });
      }
    }
    problem.textContent = message;
    problem.hidden = !message;
    if (message) {
      input.setAttribute("aria-invalid", "true");
      if (valid) {
        input.focus();
      }
      valid = false;
    } else {
      input.removeAttribute("aria-invalid");
    }
  }
  return valid;
}

async function onSave(event) {
  event.preventDefault();
  const kind = byId("kind").value;
  const values = formValues();
  if (!checkFields(kind, values)) {
    return;
  }
  if (state.correcting) {
    await correct(state.correcting, values);
    state.correcting = null;
  } else {
    await save(kind, warehouse(), values, state.session.me.username);
  }
  byId("fields").dataset.values = "{}";
  await show("queue");
  sync();
}

// ---- the queue -------------------------------------------------------------------------------

function stateLabel(record) {
  return {
    waiting: () => t("queue.waiting"),
    sent: () => t("queue.sent"),
    refused: () => t("queue.refused"),
  }[record.state]();
}

async function printMovement(record) {
  const path = `/v1/warehouses/${encodeURIComponent(record.warehouse)}/movements/${encodeURIComponent(record.answers.movement_id)}?format=pdf`;
  try {
    const response = await call(path, { accept: "application/pdf" });
    if (!response.ok) {
      throw new ApiError(response.status, await problemOf(response));
    }
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { attrs: { href: url, target: "_blank", rel: "noopener" } });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    reportError(error);
  }
}

function recordActions(record) {
  const actions = el("div", { className: "actions" });
  const button = (text, handler, className = "secondary") => {
    const node = el("button", { text, className, attrs: { type: "button" } });
    node.addEventListener("click", handler);
    actions.append(node);
  };
  if (record.state === "refused") {
    button(t("queue.correct"), async () => {
      state.correcting = record;
      await show("record");
    }, "");
    button(t("queue.discard"), async () => {
      await discard(record.seq);
      await render();
    });
  }
  if (record.state === "sent" && record.answers.movement_id) {
    button(t("queue.print"), () => printMovement(record));
  }
  return actions;
}

// Drawn in one go after the read: two renders racing (a save and the sender's news) must not
// interleave their rows.
async function renderQueueView() {
  const all = await queued();
  const rows = all.map(queueRow);
  if (rows.length === 0) {
    rows.push(el("li", { text: t("queue.empty"), className: "hint" }));
  }
  byId("queue-list").replaceChildren(...rows);
}

function queueRow(record) {
  const parts = [
    el("p", { className: "record-head" }, [
      el("strong", { text: kindLabel(record.kind) }),
      " ",
      el("span", { text: stateLabel(record), className: `badge state-${record.state}` }),
    ]),
    el("p", { text: summary(record), className: "record-what" }),
    el("p", {
      text: t("queue.saved_at", { time: formatDateTime(record.savedAt), who: record.recordedBy }),
      className: "hint",
    }),
  ];
  if (record.state === "sent") {
    parts.push(el("p", { text: t("queue.sent_as", { movement: record.answers.movement_id || "" }),
      className: "hint" }));
  }
  if (record.state === "refused") {
    parts.push(el("p", { className: "reason", text: t("queue.reason", {
      reason: [record.problem.title, record.problem.detail].filter(Boolean).join(": "),
    }) }));
  }
  parts.push(recordActions(record));
  return el("li", { className: `card record state-${record.state}`,
    attrs: { "data-seq": record.seq } }, parts);
}

async function renderIncomingView() {
  renderIncoming(
    byId("plan-lines"),
    byId("transfers-in"),
    await kept(`reservations:${warehouse()}`),
    await kept(`stock:${warehouse()}`),
    state.items,
    async (transfer) => {
      byId("kind").value = "transfer-in";
      byId("fields").dataset.values = JSON.stringify({ transfer_id: transfer });
      await show("record");
    },
  );
}

// ---- wiring ----------------------------------------------------------------------------------

async function onSignIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const answer = await signIn(form.elements.username.value.trim(), form.elements.password.value);
    await startSession(answer.access_token);
    form.reset();
    report(null);
    await showApp();
    await refresh();
    await sync();
  } catch (error) {
    reportError(error);
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  await forget("session");
  state.session = null;
  useToken(null);
  showSignIn(false);
}

function wire() {
  byId("login-form").addEventListener("submit", onSignIn);
  byId("sign-out").addEventListener("click", signOut);
  byId("sync-now").addEventListener("click", async () => {
    await sync();
    await refresh();
  });
  byId("record-form").addEventListener("submit", onSave);
  byId("record-cancel").addEventListener("click", async () => {
    state.correcting = null;
    await show("queue");
  });
  byId("kind").addEventListener("change", () => {
    byId("fields").dataset.values = "{}";
    renderFields(byId("kind").value, {});
  });
  byId("warehouse").addEventListener("change", async (event) => {
    state.session.warehouse = event.target.value;
    state.cardItem = null;
    byId("card-panel").hidden = true;
    await keep("session", state.session);
    await refresh();
  });
  byId("card-close").addEventListener("click", () => {
    state.cardItem = null;
    byId("card-panel").hidden = true;
  });
  for (const button of document.querySelectorAll(".tabs button")) {
    button.addEventListener("click", () => show(button.dataset.view));
  }
  window.addEventListener("online", () => sync());
  window.addEventListener("offline", () => showStatus());
  setInterval(() => sync(), RETRY_EVERY_MS);
  onQueue({ changed: render, unauthenticated: signedOutByServer });
  onLanguageChange(() => state.session && show(state.view));
}

async function registerWorker() {
  if (!("serviceWorker" in navigator)) {
    return;
  }
  try {
    await navigator.serviceWorker.register("/warehouse/sw.js", { scope: "/warehouse/" });
    await navigator.serviceWorker.ready;
    byId("offline-ready").hidden = false;
  } catch {
    // No offline copy (a private window, or no network at first load): the app still works.
  }
}

async function main() {
  await setLanguage(chooseLanguage(), { save: false });
  languageSwitch(byId("language"));
  wire();
  registerWorker();
  state.items = (await kept("items")) || {};
  state.session = (await kept("session")) || null;
  if (!state.session) {
    showSignIn(false);
    await showStatus();
    return;
  }
  await showApp();
  if (!state.session.token) {
    showSignIn(true);
    return;
  }
  useToken(state.session.token);
  await refresh();
  await sync();
}

main();
