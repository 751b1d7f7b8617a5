// Sending the recorded movements, oldest first, one at a time. A record stays `waiting` until
// the server has answered it; every retry sends the same request with the same
// Idempotency-Key, so an answer lost on the way back (or a reload mid-send) is replayed by the
// server, never applied twice. States: waiting, sent, refused (the server said no: nothing
// changed, the storekeeper corrects and resends it, or discards it).

import { call, NetworkError, problemOf } from "./api.js";
import { deleteRecord, putRecord, records } from "./db.js";
import { requestsFor } from "./movements.js";

// Worth sending again later, with the same key: nothing was decided.
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);
const IN_PROGRESS = "/problems/idempotency-in-progress";

const hooks = { changed: () => {}, unauthenticated: () => {}, synced: () => {} };

export function onQueue(events) {
  Object.assign(hooks, events);
}

export async function save(kind, warehouse, fields, recordedBy) {
  const saved = await putRecord({
    kind,
    warehouse,
    fields,
    recordedBy,
    requests: requestsFor(kind, warehouse, fields),
    done: 0,
    answers: {},
    state: "waiting",
    savedAt: new Date().toISOString(),
  });
  hooks.changed();
  return saved;
}

// A corrected record is a new request (new keys) in its old place in the queue.
export async function correct(old, fields) {
  await putRecord({
    ...old,
    fields,
    requests: requestsFor(old.kind, old.warehouse, fields),
    done: 0,
    answers: {},
    state: "waiting",
    problem: null,
  });
  hooks.changed();
}

export async function discard(seq) {
  await deleteRecord(seq);
  hooks.changed();
}

export async function queued() {
  return (await records()).sort((a, b) => a.seq - b.seq);
}

function pathOf(request, answers) {
  return request.path.replace("{count_id}", encodeURIComponent(answers.count_id || ""));
}

// One record: "next" (answered, go on), or "stop" (no answer, or signed out: try later).
async function send(record) {
  while (record.done < record.requests.length) {
    const request = record.requests[record.done];
    let response;
    try {
      response = await call(pathOf(request, record.answers), {
        method: request.method,
        body: request.body,
        key: request.key,
      });
    } catch (error) {
      if (error instanceof NetworkError) {
        return "stop";
      }
      throw error;
    }
    if (response.status === 401) {
      hooks.unauthenticated();
      return "stop";
    }
    if (response.ok) {
      const answer = await response.json();
      if (request.gives) {
        record.answers[request.gives] = answer[request.gives];
      }
      record.answers.movement_id = answer.movement_id ?? record.answers.movement_id;
      record.answers.document_number = answer.document_number ?? null;
      record.done += 1;
      await putRecord(record);
      continue;
    }
    const problem = await problemOf(response);
    if (RETRY_STATUSES.has(response.status) || problem.type === IN_PROGRESS) {
      return "stop";
    }
    record.state = "refused";
    record.problem = { status: response.status, ...problem };
    await putRecord(record);
    hooks.changed();
    return "next";
  }
  record.state = "sent";
  record.sentAt = new Date().toISOString();
  await putRecord(record);
  hooks.changed();
  return "next";
}

async function drain() {
  let sentAny = false;
  for (;;) {
    const next = (await queued()).find((r) => r.state === "waiting");
    if (!next) {
      break;
    }
    const outcome = await send(next);
    if (outcome === "stop") {
      return sentAny;
    }
    sentAny = true;
  }
  hooks.synced();
  return sentAny;
}

let running = null;

// One sender at a time, across the tabs of this browser too (Web Locks), so a record is never
// in flight twice at once.
export function syncNow() {
  if (!running) {
    const locked = navigator.locks
      ? navigator.locks.request("kitflow-warehouse-sync", drain)
      : drain();
    running = locked.finally(() => {
      running = null;
    });
  }
  return running;
}
