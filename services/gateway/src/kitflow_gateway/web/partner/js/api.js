// Calls to the gateway for the partner portal: the bearer token (kept for this tab only, in
// sessionStorage) and the user's language on every request, and problem+json answers turned
// into an ApiError whose `fields` maps each refused field ("population.households") to the
// reason the service gave, in the user's language.

import { acceptLanguage } from "/web/shared/i18n.js";

const TOKEN_KEY = "kitflow.partnerToken";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.fields = fieldErrors(problem);
  }
}

// No answer at all (offline, or the connection dropped): worth trying again.
export class NetworkError extends Error {}

// "body.population.households" -> "population.households"; "query.rules" stays as it is.
export function fieldErrors(problem) {
  const fields = {};
  for (const error of problem.errors || []) {
    const name = String(error.field || "").replace(/^body\./, "");
    fields[name] = fields[name] ? `${fields[name]}; ${error.reason}` : error.reason;
  }
  return fields;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// Told when a call is refused with 401 (the token expired or was revoked).
let onUnauthenticated = () => {};
export function whenUnauthenticated(callback) {
  onUnauthenticated = callback;
}

export async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    // Not JSON (a proxy's error page): the status line is all there is.
    return { title: response.statusText || String(response.status), detail: "" };
  }
}

function headersFor({ accept = "application/json", key, contentType } = {}) {
  const headers = { Accept: accept, "Accept-Language": acceptLanguage() };
  const bearer = token();
  if (bearer) {
    headers.Authorization = `Bearer ${bearer}`;
  }
  if (contentType) {
    headers["Content-Type"] = contentType;
  }
  if (key) {
    headers["Idempotency-Key"] = key;
  }
  return headers;
}

export function newKey() {
  return crypto.randomUUID();
}

async function refusal(response) {
  const error = new ApiError(response.status, await problemOf(response));
  if (response.status === 401) {
    onUnauthenticated(error);
  }
  return error;
}

// A JSON call. A state change carries an Idempotency-Key (`key`, or a new one): send the same
// key again to retry the same action, so the service applies it once.
export async function api(path, { method = "GET", body, key } = {}) {
  const changes = method !== "GET";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headersFor({
        key: changes ? key || newKey() : undefined,
        contentType: body === undefined ? undefined : "application/json",
      }),
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new NetworkError(error.message);
  }
  if (!response.ok) {
    throw await refusal(response);
  }
  return response.status === 204 ? null : response.json();
}

// A file sent as the request's body through XMLHttpRequest, the one browser API that reports
// upload progress: onProgress(sent, total) as the bytes leave, then the JSON answer.
export function upload(path, file, { contentType, key, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [name, value] of Object.entries(headersFor({ key: key || newKey(), contentType }))) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => {
      if (onProgress && event.lengthComputable) {
        onProgress(event.loaded, event.total);
      }
    };
    xhr.onerror = () => reject(new NetworkError("upload failed"));
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = { title: xhr.statusText || String(xhr.status), detail: "" };
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body);
        return;
      }
      const error = new ApiError(xhr.status, body);
      if (xhr.status === 401) {
        onUnauthenticated(error);
      }
      reject(error);
    };
    xhr.send(file);
  });
}

export async function signIn(username, password) {
  let response;
  try {
    response = await fetch("/v1/auth/token", {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept-Language": acceptLanguage(),
      },
      body: new URLSearchParams({ grant_type: "password", username, password }),
    });
  } catch (error) {
    throw new NetworkError(error.message);
  }
  if (!response.ok) {
    throw new ApiError(response.status, await problemOf(response));
  }
  const body = await response.json();
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  return body;
}
