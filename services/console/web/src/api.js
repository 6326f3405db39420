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

async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(adminEndpoint + "/api/v1" + path, init);
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : {};
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

const enc = encodeURIComponent;

function query(params) {
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") parts.push(`${key}=${enc(value)}`);
  }
  return parts.length ? "?" + parts.join("&") : "";
}

export const api = {
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
