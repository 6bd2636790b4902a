// HTTP and WebSocket access to the Tandem server (same origin only).
// Errors arrive as {"error": {"code", "message", "rule_id"?, "reason"?, "params"?, "field"?}}
// and are thrown as ApiError, so screens word `reason` with `params` from their catalog (the
// English `message` is for API users and logs) and, for staff, name the refusing rule.

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const TIMEOUT_MS = 30000; // generous: clients are often on slow 3G

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, code, message, ruleId = null, { reason = null, params = null, field = null } = {}) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.ruleId = ruleId;
    this.reason = reason;
    this.params = params || {};
    this.field = field;
  }
}

function apiError(status, e) {
  return new ApiError(status, e.code || `http_${status}`, e.message, e.rule_id ?? null,
    { reason: e.reason ?? null, params: e.params ?? null, field: e.field ?? null });
}

export function setCsrfToken(token) {
  csrfToken = token || null;
}

export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (UNSAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  init.signal = controller.signal;
  try {
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, "network_error", err && err.message);
    }
    if (res.status === 204) return null;
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const e = (data && data.error) || {};
      const err = apiError(res.status, e);
      if (err.code === "mfa_enrolment_required") {
        // Staff must set up a second factor before the server answers anything else;
        // the app shows the set-up screen, whichever screen made the call.
        window.dispatchEvent(new CustomEvent("tandem:mfa-enrolment-required"));
      }
      throw err;
    }
    return data;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Upload a file as the raw request body, with progress: XMLHttpRequest, because fetch
 * cannot report upload progress. `onProgress(fraction)` is called as bytes go out;
 * `signal` aborts. Resolves with the JSON answer; rejects with ApiError like `request`.
 */
export function upload(path, file, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    if (csrfToken) xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    if (onProgress) {
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable && event.total) onProgress(event.loaded / event.total);
      });
    }
    const abort = () => xhr.abort();
    if (signal) signal.addEventListener("abort", abort, { once: true });
    const done = () => { if (signal) signal.removeEventListener("abort", abort); };
    xhr.addEventListener("load", () => {
      done();
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        // not JSON (a proxy's error page): the status alone says what happened
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(data);
      const e = (data && data.error) || {};
      return reject(apiError(xhr.status, e));
    });
    xhr.addEventListener("error", () => { done(); reject(new ApiError(0, "network_error", "")); });
    xhr.addEventListener("abort", () => { done(); reject(new ApiError(0, "aborted", "")); });
    xhr.send(file);
  });
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}) => request("POST", path, body),
  put: (path, body = {}) => request("PUT", path, body),
  patch: (path, body = {}) => request("PATCH", path, body),
  del: (path, body) => request("DELETE", path, body),
};

// --- session -------------------------------------------------------------------

function remember(session) {
  setCsrfToken(session.csrf_token || (session.user && session.user.csrf_token));
  return session;
}

/** -> {user, csrf_token, token, mfa_required}; the session cookie is HttpOnly. */
export async function login(username, password) {
  return remember(await api.post("/api/session", { username, password }));
}

export async function verifyTotp(code) {
  return remember(await api.post("/api/session/totp", { code }));
}

/** Start setting up an authenticator app -> {secret, otpauth_uri}. */
export async function beginTotp() {
  return api.post("/api/me/totp");
}

/** Finish it with a code from the app -> {recovery_codes}. */
export async function confirmTotp(code) {
  return api.post("/api/me/totp/confirm", { code });
}

/** A client sets their first password with the one-time code from their officer -> {username}. */
export async function enrol(code, password) {
  return api.post("/api/enrol", { code, password });
}

/** -> Me, or null when nobody is signed in. */
export async function fetchMe() {
  try {
    return remember({ user: await api.get("/api/me") }).user;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export async function logout() {
  try {
    await api.del("/api/session");
  } finally {
    setCsrfToken(null);
  }
}

// The WebSocket helper lives in its own module; re-exported so screens import one place.
export { connectSocket } from "./socket.js";
