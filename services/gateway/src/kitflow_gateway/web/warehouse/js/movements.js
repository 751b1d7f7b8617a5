// The movements a storekeeper records, each as the form it is typed in and the API request(s)
// it becomes. A physical count is two requests (the count, then its submission); every request
// gets its own Idempotency-Key when the storekeeper presses save, and keeps it on every retry.

import { formatNumber, t } from "/web/shared/i18n.js";

// type: text | number | date | item | kit | reason | action | transfer | warehouse
const LINE = [
  { name: "item_code", label: "field.item", type: "item", required: true },
  { name: "quantity", label: "field.quantity", type: "number", required: true, min: 1 },
];

export const KINDS = {
  receipt: [
    { name: "grn_number", label: "field.grn_number", type: "text", required: true },
    { name: "source", label: "field.source", type: "text", required: true },
    ...LINE,
    { name: "lot", label: "field.lot", type: "text" },
    { name: "expiry", label: "field.expiry", type: "date" },
  ],
  dispatch: [
    { name: "waybill_number", label: "field.waybill_number", type: "text", required: true },
    { name: "destination", label: "field.destination", type: "text", required: true },
    ...LINE,
    { name: "lot", label: "field.lot_optional", type: "text" },
  ],
  "transfer-out": [
    { name: "to_warehouse", label: "field.to_warehouse", type: "warehouse", required: true },
    { name: "waybill_number", label: "field.waybill_number", type: "text", required: true },
    ...LINE,
    { name: "lot", label: "field.lot_optional", type: "text" },
  ],
  "transfer-in": [
    { name: "transfer_id", label: "field.transfer", type: "transfer", required: true },
    { name: "grn_number", label: "field.grn_number_optional", type: "text" },
    { name: "item_code", label: "field.item", type: "item", required: true },
    { name: "owner", label: "field.owner", type: "text", required: true },
    { name: "lot", label: "field.lot", type: "text" },
    { name: "received", label: "field.received", type: "number", required: true, min: 0 },
    { name: "damaged", label: "field.damaged", type: "number", min: 0 },
  ],
  adjustment: [
    { name: "reason", label: "field.reason", type: "reason", required: true },
    ...LINE,
    { name: "lot", label: "field.lot", type: "text" },
    { name: "note", label: "field.note", type: "text" },
  ],
  kitting: [
    { name: "action", label: "field.action", type: "action", required: true },
    { name: "kit_code", label: "field.kit", type: "kit", required: true },
    { name: "count", label: "field.count", type: "number", required: true, min: 1 },
  ],
  count: [
    { name: "item_code", label: "field.item", type: "item", required: true },
    { name: "lot", label: "field.lot", type: "text" },
    { name: "counted", label: "field.counted", type: "number", required: true, min: 0 },
  ],
};

export function kindLabel(kind) {
  return {
    receipt: () => t("kind.receipt"),
    dispatch: () => t("kind.dispatch"),
    "transfer-out": () => t("kind.transfer_out"),
    "transfer-in": () => t("kind.transfer_in"),
    adjustment: () => t("kind.adjustment"),
    kitting: () => t("kind.kitting"),
    count: () => t("kind.count"),
  }[kind]();
}

export function reasonOptions() {
  return [
    ["lost", t("reason.lost")],
    ["damaged", t("reason.damaged")],
    ["expired", t("reason.expired")],
    ["found", t("reason.found")],
  ];
}

export function actionOptions() {
  return [
    ["assemble", t("kitting.assemble")],
    ["break", t("kitting.break")],
  ];
}

const OUTGOING = new Set(["lost", "damaged", "expired"]);

function optional(value) {
  return value === "" || value === undefined ? undefined : value;
}

function int(value) {
  return Number.parseInt(value, 10);
}

function body(kind, f) {
  switch (kind) {
    case "receipt":
      return {
        grn_number: f.grn_number,
        source: f.source,
        lines: [{ item_code: f.item_code, quantity: int(f.quantity), lot: f.lot || "",
          expiry: optional(f.expiry) }],
      };
    case "dispatch":
      return {
        waybill_number: f.waybill_number,
        destination: f.destination,
        lines: [{ item_code: f.item_code, quantity: int(f.quantity), lot: optional(f.lot) }],
      };
    case "transfer-out":
      return {
        to_warehouse: f.to_warehouse,
        waybill_number: f.waybill_number,
        lines: [{ item_code: f.item_code, quantity: int(f.quantity), lot: optional(f.lot) }],
      };
    case "transfer-in":
      return {
        grn_number: optional(f.grn_number),
        lines: [{ item_code: f.item_code, owner: f.owner, lot: f.lot || "",
          received: int(f.received), damaged: int(f.damaged || "0") }],
      };
    case "adjustment":
      return {
        item_code: f.item_code,
        // The storekeeper types how many; the reason says which way it goes.
        quantity: OUTGOING.has(f.reason) ? -int(f.quantity) : int(f.quantity),
        reason: f.reason,
        lot: f.lot || "",
        note: optional(f.note),
      };
    case "kitting":
      return { kit_code: f.kit_code, count: int(f.count), action: f.action };
    case "count":
      return { lines: [{ item_code: f.item_code, lot: f.lot || "", counted: int(f.counted) }] };
    default:
      throw new Error(`unknown movement ${kind}`);
  }
}

function newKey() {
  return crypto.randomUUID();
}

// The requests a movement becomes; `{count_id}` is filled in from the first answer.
export function requestsFor(kind, warehouse, fields) {
  const base = `/v1/warehouses/${encodeURIComponent(warehouse)}`;
  const payload = body(kind, fields);
  const single = {
    receipt: "receipts",
    dispatch: "dispatches",
    "transfer-out": "transfers",
    adjustment: "adjustments",
    kitting: "kitting",
  }[kind];
  if (single) {
    return [{ method: "POST", path: `${base}/${single}`, body: payload, key: newKey() }];
  }
  if (kind === "transfer-in") {
    const transfer = encodeURIComponent(fields.transfer_id);
    return [
      { method: "POST", path: `${base}/transfers/${transfer}/receipt`, body: payload,
        key: newKey() },
    ];
  }
  return [
    { method: "POST", path: `${base}/counts`, body: payload, key: newKey(), gives: "count_id" },
    { method: "POST", path: `${base}/counts/{count_id}/submit`, key: newKey() },
  ];
}

// What a record is about, in one line (document number, item and quantity).
export function summary(record) {
  const f = record.fields;
  const doc = f.grn_number || f.waybill_number || f.transfer_id || "";
  const amount = (value) => (/^\d+$/.test(value ?? "") ? formatNumber(Number(value)) : value);
  const what = f.kit_code
    ? `${f.kit_code} × ${amount(f.count)}`
    : `${f.item_code} × ${amount(f.quantity ?? f.received ?? f.counted)}`;
  return doc ? `${doc} · ${what}` : what;
}
