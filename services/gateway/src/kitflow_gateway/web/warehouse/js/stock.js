// What the storekeeper sees: balances by item and lot (as last synced), an item's stock card,
// the plan lines waiting to leave this warehouse, and the transfers on their way in.

import { formatDate, formatDateTime, formatNumber, itemName, t } from "/web/shared/i18n.js";
import { el } from "/web/shared/dom.js";

// Flagged when a lot expires within six months, as the stock service's lot.near-expiry.v1.
const NEAR_EXPIRY_DAYS = 183;

function daysUntil(isoDate) {
  return (Date.parse(`${isoDate}T00:00:00Z`) - Date.now()) / 86_400_000;
}

function badge(text, className) {
  return el("span", { text, className: `badge ${className}` });
}

function figure(label, value) {
  return el("div", { className: "figure" }, [
    el("dt", { text: label }),
    el("dd", { text: formatNumber(value) }),
  ]);
}

function lotLine(lot) {
  const parts = [lot.lot ? t("stock.lot", { lot: lot.lot }) : t("stock.no_lot")];
  if (lot.expiry) {
    parts.push(t("stock.expires", { date: formatDate(lot.expiry) }));
  }
  parts.push(lot.owner);
  const line = el("li", { text: `${parts.join(" · ")} — ${formatNumber(lot.on_hand)}` });
  if (lot.expiry && lot.on_hand > 0) {
    const days = daysUntil(lot.expiry);
    if (days < 0) {
      line.append(" ", badge(t("flag.expired"), "danger"));
    } else if (days <= NEAR_EXPIRY_DAYS) {
      line.append(" ", badge(t("flag.near_expiry"), "warn"));
    }
  }
  return line;
}

export function renderStock(container, stock, items, openCard) {
  container.replaceChildren();
  if (!stock || stock.items.length === 0) {
    container.append(el("p", { text: t("stock.empty"), className: "hint" }));
    return;
  }
  for (const balance of stock.items) {
    const item = items[balance.item_code];
    const heading = el("h3", { text: `${itemName(item) || balance.item_code}` }, [
      el("span", { text: ` ${balance.item_code}`, className: "code" }),
    ]);
    const flags = el("p", { className: "flags" });
    if (balance.low) {
      flags.append(badge(t("flag.low"), "danger"));
    }
    const near = balance.lots.some(
      (lot) => lot.expiry && lot.on_hand > 0 && daysUntil(lot.expiry) <= NEAR_EXPIRY_DAYS,
    );
    if (near) {
      flags.append(badge(t("flag.near_expiry"), "warn"));
    }
    const card = el("article", { className: "card item", attrs: { "data-item": balance.item_code } }, [
      heading,
      flags,
      el("dl", { className: "figures" }, [
        figure(t("stock.on_hand"), balance.on_hand),
        figure(t("stock.reserved"), balance.reserved),
        figure(t("stock.available"), balance.available),
        figure(t("stock.in_transit"), balance.in_transit),
      ]),
      el("ul", { className: "lots" }, balance.lots.map(lotLine)),
    ]);
    const button = el("button", { text: t("stock.open_card"), className: "secondary",
      attrs: { type: "button" } });
    button.addEventListener("click", () => openCard(balance.item_code));
    card.append(button);
    container.append(card);
  }
}

function movementName(row) {
  const kind = {
    receipt: () => t("kind.receipt"),
    dispatch: () => t("kind.dispatch"),
    "transfer-out": () => t("kind.transfer_out"),
    "transfer-in": () => t("kind.transfer_in"),
    adjustment: () => t("kind.adjustment"),
    "kit-assembly": () => t("kind.kit_assembly"),
    "kit-breakdown": () => t("kind.kit_breakdown"),
    reversal: () => t("kind.reversal"),
  }[row.kind];
  return [kind ? kind() : row.kind, row.document_number].filter(Boolean).join(" ");
}

export function renderCard(table, card) {
  const body = table.tBodies[0];
  body.replaceChildren();
  if (!card || card.rows.length === 0) {
    body.append(el("tr", {}, [el("td", { text: t("card.empty"), attrs: { colspan: "4" } })]));
    return;
  }
  for (const row of card.rows) {
    body.append(
      el("tr", {}, [
        el("td", { text: formatDateTime(row.occurred_at) }),
        el("td", { text: movementName(row) }),
        el("td", { text: formatNumber(row.quantity), className: "number" }),
        el("td", { text: formatNumber(row.on_hand_after), className: "number" }),
      ]),
    );
  }
}

export function renderIncoming(planList, transferList, reservations, stock, items, receive) {
  planList.replaceChildren();
  const waiting = (reservations || []).filter((r) => r.status === "active");
  if (waiting.length === 0) {
    planList.append(el("li", { text: t("incoming.no_plan_lines"), className: "hint" }));
  }
  for (const line of waiting) {
    const item = items[line.item_code];
    planList.append(
      el("li", { className: "card" }, [
        el("strong", { text: `${itemName(item) || line.item_code} — ${formatNumber(line.reserved)}` }),
        el("p", {
          text: t("incoming.plan_line", {
            plan: line.plan_id,
            line: line.line_id,
            date: line.expires_at ? formatDate(line.expires_at) : "—",
          }),
        }),
      ]),
    );
  }
  transferList.replaceChildren();
  const transfers = stock ? stock.transfers_in_transit : [];
  if (transfers.length === 0) {
    transferList.append(el("li", { text: t("incoming.no_transfers"), className: "hint" }));
  }
  const moving = (stock ? stock.items : []).filter((b) => b.in_transit > 0);
  const goods = moving
    .map((b) => `${itemName(items[b.item_code]) || b.item_code}: ${formatNumber(b.in_transit)}`)
    .join(", ");
  for (const transfer of transfers) {
    const button = el("button", { text: t("incoming.receive"), attrs: { type: "button" } });
    button.addEventListener("click", () => receive(transfer));
    transferList.append(
      el("li", { className: "card" }, [
        el("strong", { text: transfer }),
        el("p", { text: goods ? t("incoming.in_transit", { goods }) : "" }),
        button,
      ]),
    );
  }
}
