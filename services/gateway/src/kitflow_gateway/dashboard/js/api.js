// Calls to the gateway: the bearer token from sessionStorage on every request, and problem+json
// answers turned into an ApiError carrying the API's own `detail` for the user to read.

import { acceptLanguage } from "/web/shared/i18n.js";

const TOKEN_KEY = "kitflow.accessToken";

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// Told when a call is refused with 401 (token expired or revoked), so the app can sign out.
let onUnauthenticated = () => {};
export function whenUnauthenticated(callback) {
  onUnauthenticated = callback;
}

async function errorOf(response) {
  let title = response.statusText;
  let detail = "";
  try {
    const problem = await response.json();
    title = problem.title || title;
    detail = problem.detail || "";
  } catch {
    // Not JSON (a proxy's HTML error page): the status line is all there is to show.
  }
  return new ApiError(response.status, title, detail);
}

export async function signIn(username, password) {
  const form = new URLSearchParams({ grant_type: "password", username, password });
  const response = await fetch("/v1/auth/token", {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      "Accept-Language": acceptLanguage(),
    },
    body: form,
  });
  if (!response.ok) {
    throw await errorOf(response);
  }
  const body = await response.json();
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  return body;
}

function idempotencyKey() {
  if (crypto.randomUUID) {
    return crypto.randomUUID();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// One Idempotency-Key per user action: sending the same request again (after a timeout or an
// error) reuses it, so the service applies it once; another request (a changed form, another
// plan) gets a new one, since a key reused for another request is refused.
export function keyedAction() {
  let last = null;
  return {
    keyFor(path, body) {
      const request = JSON.stringify([path, body]);
      if (!last || last.request !== request) {
        last = { request, key: idempotencyKey() };
      }
      return last.key;
    },
    done() {
      last = null;
    },
  };
}

// Every state-changing request carries an Idempotency-Key: `key` (from keyedAction) or a new one.
export async function api(path, { method = "GET", body, key, raw = false } = {}) {
  const headers = { Accept: "application/json", "Accept-Language": acceptLanguage() };
  const bearer = token();
  if (bearer) {
    headers.Authorization = `Bearer ${bearer}`;
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  if (method !== "GET") {
    headers["Idempotency-Key"] = key ?? idempotencyKey();
  }
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    const error = await errorOf(response);
    onUnauthenticated(error);
    throw error;
  }
  if (!response.ok) {
    throw await errorOf(response);
  }
  if (raw) {
    return response;
  }
  return response.status === 204 ? null : response.json();
}
