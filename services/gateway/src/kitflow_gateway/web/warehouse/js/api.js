// Calls to the gateway with the signed-in token and the user's language. Reads throw ApiError
// (the API's own title and detail) or NetworkError (no answer at all: offline, or the answer
// was lost), so the caller can tell "refused" from "try again later".

import { acceptLanguage } from "/web/shared/i18n.js";

let bearer = null;

export function useToken(token) {
  bearer = token;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export class NetworkError extends Error {}

export async function problemOf(response) {
  try {
    const body = await response.json();
    return { type: body.type, title: body.title || "", detail: body.detail || "" };
  } catch {
    // Not JSON (a proxy's error page): the status line is all there is.
    return { type: "about:blank", title: response.statusText || String(response.status), detail: "" };
  }
}

export async function call(path, { method = "GET", body, key, accept = "application/json" } = {}) {
  const headers = { Accept: accept, "Accept-Language": acceptLanguage() };
  if (bearer) {
    headers.Authorization = `Bearer ${bearer}`;
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  if (key) {
    headers["Idempotency-Key"] = key;
  }
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new NetworkError(error.message);
  }
}

export async function getJson(path) {
  const response = await call(path);
  if (!response.ok) {
    throw new ApiError(response.status, await problemOf(response));
  }
  return response.json();
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
  return response.json();
}
