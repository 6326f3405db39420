// admin's public REST API (/api/v1, JSON with proto field names). The admin endpoint comes from the page's
// settings: "" when admin serves the console itself (same origin), else another origin (CORS).
const settings = window.ALOFT_CONSOLE || { adminEndpoint: "", basePath: "/console" };

export const basePath = settings.basePath;
export const adminEndpoint = settings.adminEndpoint;

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

const enc = encodeURIComponent;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
// The console's own route shown after logout: it makes no API call, so the browser is not sent to log in again.
export const LOGGED_OUT_ROUTE = "/logged-out";

// With auth on, admin's OIDC login sets an HttpOnly session cookie and a readable `aloft_csrf` cookie whose value
// every state-changing call echoes in X-CSRF-Token (double submit: another site can send the cookie, not read it).
// A console on another origin cannot read admin's cookies: admin also returns the token in the X-CSRF-Token header
// of the session's replies, which only origins admin's CORS allows can read.
let csrfFromReplies = "";

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

// Where admin sends the browser back after /login or /logout: a path on the same origin, else the full URL (admin
// only follows URLs under its authorizedUris).
function backTo(path) {
  return adminEndpoint ? window.location.origin + path : path;
}

export function loginUrl(path) {
  const here = path || window.location.pathname + window.location.search + window.location.hash;
  return `${adminEndpoint}/login?redirect_url=${enc(backTo(here))}`;
}

export function logoutUrl() {
  return `${adminEndpoint}/logout?redirect_url=${enc(backTo(basePath + LOGGED_OUT_ROUTE))}`;
}

// A 401 means no (or an expired) session: off to the login once; a second 401 within a minute (a login that does
// not stick) shows the error instead of looping.
function sendToLogin() {
  const last = Number(sessionStorage.getItem("aloft_login_at") || 0);
  if (Date.now() - last < 60_000) return false;
  sessionStorage.setItem("aloft_login_at", String(Date.now()));
  window.location.assign(loginUrl());
  return true;
}

async function csrfToken() {
  const token = cookie("aloft_csrf") || csrfFromReplies;
  if (token || !adminEndpoint) return token;
  await request("GET", adminEndpoint + "/me"); // a session's reply carries its token
  return csrfFromReplies;
}

// A console on another origin sends admin's cookies (CORS credentials) once admin has asked who is calling (401):
// admin allows credentials only for the origins server.security.allowedOrigins lists, and its "*" answer (auth off,
// no session to send) refuses credentialed calls.
const CREDENTIALS_KEY = "aloft_admin_credentials";

function credentialsMode() {
  if (!adminEndpoint) return "same-origin";
  return sessionStorage.getItem(CREDENTIALS_KEY) ? "include" : "same-origin";
}

async function request(method, url, body) {
  const credentials = credentialsMode();
  const init = { method, headers: { Accept: "application/json" }, credentials };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (!SAFE_METHODS.has(method)) {
    const csrf = await csrfToken();
    if (csrf) init.headers["X-CSRF-Token"] = csrf;
  }
  const response = await fetch(url, init);
  csrfFromReplies = response.headers.get("X-CSRF-Token") || csrfFromReplies;
  if (response.status === 401 && adminEndpoint && credentials !== "include") {
    sessionStorage.setItem(CREDENTIALS_KEY, "1"); // auth is on: try again with the session, if there is one
    return request(method, url, body);
  }
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : {};
  if (response.status === 401 && sendToLogin()) return new Promise(() => {}); // the page is going away
  if (!response.ok) throw new ApiError(response.status, parsed);
  sessionStorage.removeItem("aloft_login_at");
  return parsed;
}

function call(method, path, body) {
  return request(method, adminEndpoint + "/api/v1" + path, body);
}

function query(params) {
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") parts.push(`${key}=${enc(value)}`);
  }
  return parts.length ? "?" + parts.join("&") : "";
}

export const api = {
  // IdentityService.UserInfo: the logged-in user, or "anonymous" when auth is off.
  me: () => request("GET", adminEndpoint + "/me"),
  projects: () => call("GET", "/projects" + query({ limit: 1000 })),
  domains: () => call("GET", "/domains"),
  entityIds: (kind, project, domain) =>
    call("GET", `/${kind}_ids/${enc(project)}/${enc(domain)}` + query({ limit: 1000, "sort_by.key": "name", "sort_by.direction": "ASCENDING" })),
  versions: (kind, project, domain, name, token) =>
    call("GET", `/${kind}s/${enc(project)}/${enc(domain)}/${enc(name)}` + query({ limit: 50, token, "sort_by.key": "created_at", "sort_by.direction": "DESCENDING" })),
  entity: (kind, id) => call("GET", `/${kind}s/${enc(id.project)}/${enc(id.domain)}/${enc(id.name)}/${enc(id.version)}`),
  // The list call (200 with none) rather than the get (404 when flytekit registered no description).
  descriptionEntities: (resourceType, id) =>
    call("GET", `/description_entities/${resourceType}/${enc(id.project)}/${enc(id.domain)}/${enc(id.name)}` + query({ limit: 1, filters: `eq(version,${id.version})` })),
  activeLaunchPlans: (project, domain) => call("GET", `/active_launch_plans/${enc(project)}/${enc(domain)}` + query({ limit: 1000 })),
  matchableAttributes: (resourceType) => call("GET", "/matchable_attributes" + query({ resource_type: resourceType })),
  executions: (project, domain, { filters, token, sortKey, sortDirection, limit }) =>
    call("GET", `/executions/${enc(project)}/${enc(domain)}` + query({ limit: limit || 25, token, filters, "sort_by.key": sortKey, "sort_by.direction": sortDirection })),
  execution: (id) => call("GET", `/executions/${enc(id.project)}/${enc(id.domain)}/${enc(id.name)}`),
  executionData: (id) => call("GET", `/data/executions/${enc(id.project)}/${enc(id.domain)}/${enc(id.name)}`),
  nodeExecutions: (id, parentId, token) =>
    call("GET", `/node_executions/${enc(id.project)}/${enc(id.domain)}/${enc(id.name)}` + query({ limit: 1000, token, unique_parent_id: parentId })),
  nodeExecutionData: (id, nodeId) =>
    call("GET", `/data/node_executions/${enc(id.project)}/${enc(id.domain)}/${enc(id.name)}/${enc(nodeId)}`),
  dynamicWorkflow: (id, nodeId) =>
    call("GET", `/node_executions/${enc(id.project)}/${enc(id.domain)}/${enc(id.name)}/${enc(nodeId)}/dynamic_workflow`),
  taskExecutions: (id, nodeId) =>
    call("GET", `/task_executions/${enc(id.project)}/${enc(id.domain)}/${enc(id.name)}/${enc(nodeId)}` + query({ limit: 100 })),
  uploadLocation: (body) => call("POST", "/dataproxy/artifact_urn", body),
  downloadLink: (body) => call("POST", "/dataproxy/artifact_link", body),
  createExecution: (body) => call("POST", "/executions", body),
  relaunch: (id) => call("POST", "/executions/relaunch", { id, name: "" }),
  recover: (id) => call("POST", "/executions/recover", { id, name: "" }),
  terminate: (id, cause) => call("DELETE", `/executions/${enc(id.project)}/${enc(id.domain)}/${enc(id.name)}`, { id, cause }),
};

// Every list call pages with `token`; this follows it to the end (for node executions of big executions).
export async function listAll(fetchPage) {
  const items = [];
  let token = "";
  for (;;) {
    const page = await fetchPage(token);
    const key = Object.keys(page).find((k) => Array.isArray(page[k]));
    items.push(...(key ? page[key] : []));
    if (!page.token) return items;
    token = page.token;
  }
}

// A file from the user's disk into the blob store (DataProxy CreateUploadLocation, then PUT to the signed URL);
// resolves to the blob's native URI (s3://…, file://…) for a launch input.
export async function uploadFile(project, domain, file) {
  const location = await api.uploadLocation({ project, domain, filename: file.name, filename_root: `console-${crypto.randomUUID()}` });
  const response = await fetch(location.signed_url, { method: "PUT", body: file, headers: location.headers || {} });
  if (!response.ok) throw new ApiError(response.status, { message: `upload of ${file.name} failed: HTTP ${response.status}` });
  return location.native_url;
}
