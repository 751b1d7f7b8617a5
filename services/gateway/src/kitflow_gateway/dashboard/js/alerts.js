// "Alerts": what is stuck and why (low stock, lots near expiry, plans waiting on stock,
// reservations about to lapse, needs waiting for validation, dead letters), one list, newest
// first, each linking to the view of the thing concerned; and the count on the tab's badge.
// The sentences are built here from each alert's data, so they read in the page's language.

import { formatDate, formatDateTime, formatNumber, t } from "/web/shared/i18n.js";
import { api } from "./api.js";
import { el } from "/web/shared/dom.js";

const LIMIT = 200;

const KIND_LABELS = {
  "low-stock": () => t("alerts.kind.low_stock"),
  "near-expiry": () => t("alerts.kind.near_expiry"),
  "plan-waiting-on-stock": () => t("alerts.kind.plan_waiting"),
  "reservation-expiring": () => t("alerts.kind.reservation_expiring"),
  "need-waiting-for-validation": () => t("alerts.kind.need_waiting"),
  "dead-letter": () => t("alerts.kind.dead_letter"),
};

// The API's sentence starts with the plan's title or the need's site ("Mopti NFI: stock could
// not ..."; "NRC: Sévaré 2"): the name a coordinator knows, kept, the rest said here.
function nameIn(message, fallback) {
  const end = (message || "").lastIndexOf(": ");
  return end > 0 ? message.slice(0, end) : fallback;
}

function siteIn(message, organisation, fallback) {
  const prefix = `${organisation}: `;
  return message && message.startsWith(prefix) ? message.slice(prefix.length) : fallback;
}

function sentence(alert) {
  const data = alert.data || {};
  const [warehouse, item, lot] = alert.subject.split("/");
  switch (alert.kind) {
    case "low-stock":
      return t("alerts.low_stock", {
        warehouse,
        item,
        available: formatNumber(data.available ?? 0),
        minimum: formatNumber(data.minimum ?? 0),
      });
    case "near-expiry":
      return t("alerts.near_expiry", {
        warehouse,
        item,
        lot,
        quantity: formatNumber(data.on_hand ?? 0),
        date: formatDate(data.expiry),
      });
    case "plan-waiting-on-stock":
      return t("alerts.plan_waiting", {
        title: nameIn(alert.message, alert.subject),
        plan: alert.subject,
      });
    case "reservation-expiring":
      return t("alerts.reservation_expiring", {
        title: nameIn(alert.message, alert.subject),
        plan: alert.subject,
        time: formatDateTime(data.expires_at),
      });
    case "need-waiting-for-validation":
      return t("alerts.need_waiting", {
        site: siteIn(alert.message, data.organisation, alert.subject),
        organisation: data.organisation || "",
      });
    default:
      return t("alerts.dead_letter", { subject: alert.subject, reason: alert.message });
  }
}

// The view that shows the thing concerned (dead letters are replayed from the command line).
function linkOf(alert) {
  switch (alert.kind) {
    case "low-stock":
    case "near-expiry":
      return { href: "#stock", text: t("alerts.link.stock"), view: "stock" };
    case "plan-waiting-on-stock":
    case "reservation-expiring":
      return {
        href: `#plans/${encodeURIComponent(alert.subject)}`,
        text: t("alerts.link.plan"),
        view: "plans",
      };
    case "need-waiting-for-validation":
      return { href: "#needs", text: t("alerts.link.needs"), view: "needs" };
    default:
      return null;
  }
}

function item(alert) {
  const kind = KIND_LABELS[alert.kind] ? KIND_LABELS[alert.kind]() : alert.kind;
  const parts = [
    el("p", { className: "alert-head" }, [
      el("strong", { text: kind }),
      " · ",
      el("time", { text: formatDateTime(alert.at), attrs: { datetime: alert.at } }),
    ]),
    el("p", { text: sentence(alert) }),
  ];
  const link = linkOf(alert);
  if (link) {
    const anchor = el("a", { text: link.text, attrs: { href: link.href } });
    anchor.addEventListener("click", (event) => {
      event.preventDefault();
      document.dispatchEvent(
        new CustomEvent("dashboard:show", { detail: { view: link.view, subject: alert.subject } }),
      );
    });
    parts.push(el("p", {}, [anchor]));
  }
  return el("li", { className: `alert alert-${alert.kind}`, attrs: { "data-kind": alert.kind } },
    parts);
}

function setBadge(count) {
  const badge = document.getElementById("alerts-badge");
  badge.hidden = count === 0;
  badge.textContent = count >= LIMIT ? `${LIMIT}+` : String(count);
  badge.setAttribute("aria-label", t("alerts.badge", { count: badge.textContent }));
}

async function fetchAlerts() {
  return api(`/v1/alerts?limit=${LIMIT}`);
}

export async function updateAlertsBadge() {
  setBadge((await fetchAlerts()).length);
}

export async function showAlerts() {
  const alerts = await fetchAlerts();
  setBadge(alerts.length);
  const list = document.getElementById("alerts-list");
  list.replaceChildren(...alerts.map(item));
  document.getElementById("alerts-empty").hidden = alerts.length > 0;
  document.getElementById("alerts-count").textContent = t("alerts.count", {
    count: formatNumber(alerts.length),
  });
}
