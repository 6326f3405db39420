// A Node.js client for Aloft admin, generated at run time from the .proto files that the @flyteorg/flyteidl npm
// package ships (nothing from Aloft), to show that any gRPC client built from flyteidl works against it.
//
// Usage: node client.mjs <host:port>
// Prints one JSON object on stdout summarising every call; exits non-zero only if the client itself breaks.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));
const DOMAIN = 'development';
const DEADLINE_MS = 10_000;

function loadAdminService() {
  const definition = protoLoader.loadSync('flyteidl/service/admin.proto', {
    includeDirs: [
      path.join(here, 'node_modules/@flyteorg/flyteidl/protos'),
      // google/api/annotations.proto ships with protobufjs (a dependency of proto-loader).
      path.join(here, 'node_modules/protobufjs'),
      // protoc-gen-openapiv2 annotations are not shipped by the npm package: see the stand-in's comment.
      path.join(here, 'third_party'),
    ],
    keepCase: true,
    enums: String,
    longs: String,
    defaults: false,
    oneofs: false,
  });
  return grpc.loadPackageDefinition(definition).flyteidl.service.AdminService;
}

// Promisified unary call that resolves to {ok, response} or {ok: false, code, details} instead of throwing.
function call(client, method, request) {
  return new Promise((resolve) => {
    const deadline = new Date(Date.now() + DEADLINE_MS);
    client[method](request, { deadline }, (error, response) => {
      if (error) resolve({ ok: false, code: error.code, codeName: grpc.status[error.code], details: error.details });
      else resolve({ ok: true, response });
    });
  });
}

function expectOk(method, result) {
  if (!result.ok) throw new Error(`${method} failed: ${result.codeName} ${result.details}`);
  return result.response;
}

// Canonical JSON (sorted keys) so that structural equality does not depend on field order.
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical(value[key])]));
  }
  return value;
}

const sameJson = (a, b) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

// A python-task interface: (a: int, b: str) -> o0: float. No zero-valued scalars, which the wire would drop.
function taskInterface() {
  return {
    inputs: {
      variables: {
        a: { type: { simple: 'INTEGER' }, description: 'a' },
        b: { type: { simple: 'STRING' }, description: 'b' },
      },
    },
    outputs: { variables: { o0: { type: { simple: 'FLOAT' }, description: 'o0' } } },
  };
}

function taskTemplate(id) {
  return {
    id,
    type: 'python-task',
    metadata: {
      runtime: { type: 'FLYTE_SDK', version: '1.16.0', flavor: 'python' },
      retries: { retries: 1 },
      discovery_version: '1',
    },
    interface: taskInterface(),
    container: {
      image: 'python:3.11-slim',
      args: ['pyflyte-execute', '--inputs', '{{.input}}', '--output-prefix', '{{.outputPrefix}}'],
      resources: { requests: [{ name: 'CPU', value: '500m' }] },
    },
  };
}

async function main() {
  const endpoint = process.argv[2];
  if (!endpoint) throw new Error('usage: node client.mjs <host:port>');
  const AdminService = loadAdminService();
  const client = new AdminService(endpoint, grpc.credentials.createInsecure());
  const suffix = randomBytes(4).toString('hex');
  const project = `node-${suffix}`;
  const taskId = { resource_type: 'TASK', project, domain: DOMAIN, name: 'polyglot.square', version: 'v1' };
  const summary = { endpoint, project };

  const version = expectOk('GetVersion', await call(client, 'GetVersion', {}));
  summary.getVersion = { version: version.control_plane_version?.Version ?? null };

  expectOk(
    'RegisterProject',
    await call(client, 'RegisterProject', { project: { id: project, name: project, description: 'from Node.js' } }),
  );
  summary.registerProject = { ok: true };

  const got = expectOk('GetProject', await call(client, 'GetProject', { id: project }));
  summary.getProject = {
    id: got.id,
    name: got.name,
    description: got.description,
    domains: (got.domains ?? []).map((d) => d.id),
  };

  const listed = expectOk('ListProjects', await call(client, 'ListProjects', { limit: 100 }));
  summary.listProjects = { found: (listed.projects ?? []).some((p) => p.id === project) };

  const template = taskTemplate(taskId);
  expectOk('CreateTask', await call(client, 'CreateTask', { id: taskId, spec: { template } }));
  // A second version, so that the ListTasks filter below has something to leave out.
  const taskIdV2 = { ...taskId, version: 'v2' };
  expectOk('CreateTask', await call(client, 'CreateTask', { id: taskIdV2, spec: { template: taskTemplate(taskIdV2) } }));
  summary.createTask = { ok: true, versions: ['v1', 'v2'] };

  const task = expectOk('GetTask', await call(client, 'GetTask', { id: taskId }));
  const returned = task.closure?.compiled_task?.template;
  summary.getTask = {
    id: task.id,
    type: returned?.type,
    interface: returned?.interface,
    interfaceEqual: sameJson(returned?.interface, template.interface),
    containerImage: returned?.container?.image,
  };

  const tasks = expectOk(
    'ListTasks',
    await call(client, 'ListTasks', {
      id: { project, domain: DOMAIN, name: taskId.name },
      limit: 10,
      filters: 'eq(version,v1)',
    }),
  );
  const allTasks = expectOk(
    'ListTasks',
    await call(client, 'ListTasks', { id: { project, domain: DOMAIN, name: taskId.name }, limit: 10 }),
  );
  summary.listTasks = {
    filteredIds: (tasks.tasks ?? []).map((t) => t.id),
    unfilteredVersions: (allTasks.tasks ?? []).map((t) => t.id.version).sort(),
  };

  const missing = { ...taskId, version: `missing-${suffix}` };
  const notFound = await call(client, 'GetTask', { id: missing });
  summary.getMissingTask = { id: missing, ok: notFound.ok, code: notFound.code, codeName: notFound.codeName, details: notFound.details };

  client.close();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
