import { Link } from "wouter";
import { api } from "../api.js";
import { typeName, literalValue, literalMapValues } from "../literals.js";
import { Breadcrumbs, Json, Loading, formatTime, useData } from "../util.jsx";
import { ExecutionsTable } from "./executions.jsx";

const LABEL = { workflow: "Workflow", task: "Task", launch_plan: "Launch plan" };
const RESOURCE = { workflow: "WORKFLOW", task: "TASK", launch_plan: "LAUNCH_PLAN" };

function crumbs(project, domain, kind, name, version) {
  const items = [["Projects", "/"], [project, `/projects/${project}`], [domain, `/projects/${project}/domains/${domain}`], [`${LABEL[kind]}s`, `/projects/${project}/domains/${domain}/${kind}s`]];
  items.push(version ? [name, `/projects/${project}/domains/${domain}/${kind}s/${name}`] : [name]);
  if (version) items.push([version]);
  return items;
}

export function EntityPage({ project, domain, kind, name }) {
  const state = useData(() => api.versions(kind, project, domain, name), [kind, project, domain, name]);
  return (
    <section>
      <Breadcrumbs items={crumbs(project, domain, kind, name)} />
      <h1>
        {LABEL[kind]} {name}
      </h1>
      <Loading state={state}>
        {(data) => {
          const versions = data[`${kind}s`] || [];
          if (versions.length === 0) return <p role="alert">No versions of {name}.</p>;
          return (
            <>
              <LoadedDetails kind={kind} id={versions[0].id} />
              <h2>Versions</h2>
              <table className="table" aria-label="Versions">
                <thead>
                  <tr>
                    <th scope="col">Version</th>
                    <th scope="col">Registered</th>
                    {kind === "launch_plan" && <th scope="col">State</th>}
                  </tr>
                </thead>
                <tbody>
                  {versions.map((v) => (
                    <tr key={v.id.version}>
                      <td>
                        <Link href={`/projects/${project}/domains/${domain}/${kind}s/${name}/version/${v.id.version}`}>{v.id.version}</Link>
                      </td>
                      <td>{formatTime(v.closure && v.closure.created_at)}</td>
                      {kind === "launch_plan" && <td>{v.closure && v.closure.state}</td>}
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          );
        }}
      </Loading>
      {kind !== "task" && (
        <>
          <h2>Executions</h2>
          <ExecutionsTable project={project} domain={domain} fixedFilters={kind === "workflow" ? { workflow: name } : { launchPlan: name }} />
        </>
      )}
    </section>
  );
}

export function EntityVersionPage({ project, domain, kind, name, version }) {
  return (
    <section>
      <Breadcrumbs items={crumbs(project, domain, kind, name, version)} />
      <h1>
        {LABEL[kind]} {name}
      </h1>
      <p className="muted">version {version}</p>
      <LoadedDetails kind={kind} id={{ project, domain, name, version }} />
    </section>
  );
}

// List calls carry no closures (as flyteadmin): the interface comes from the version itself.
function LoadedDetails({ kind, id }) {
  const state = useData(() => api.entity(kind, id), [kind, id.project, id.domain, id.name, id.version]);
  return <Loading state={state}>{(entity) => <EntityDetails kind={kind} entity={entity} />}</Loading>;
}

function interfaceOf(kind, entity) {
  const closure = entity.closure || {};
  if (kind === "workflow") return ((closure.compiled_workflow || {}).primary || {}).template?.interface || {};
  if (kind === "task") return ((closure.compiled_task || {}).template || {}).interface || {};
  return { inputs: { variables: Object.fromEntries(Object.entries((closure.expected_inputs || {}).parameters || {}).map(([k, p]) => [k, p.var])) }, outputs: closure.expected_outputs || {} };
}

function EntityDetails({ kind, entity }) {
  const { project, domain, name, version } = entity.id;
  const iface = interfaceOf(kind, entity);
  const description = useData(
    async () => ((await api.descriptionEntities(RESOURCE[kind], entity.id)).descriptionEntities || [])[0] || null,
    [kind, project, domain, name, version],
  );
  const launchable = kind !== "task";
  const spec = entity.spec || {};
  const params = kind === "launch_plan" ? ((entity.closure || {}).expected_inputs || {}).parameters || {} : {};
  const fixed = kind === "launch_plan" ? literalMapValues(spec.fixed_inputs) : {};
  return (
    <div className="entity">
      {description.data && (description.data.short_description || (description.data.long_description || {}).value) && (
        <div className="description">
          <p>{description.data.short_description}</p>
          {description.data.long_description && description.data.long_description.value && <pre className="long-description">{description.data.long_description.value}</pre>}
        </div>
      )}
      {kind === "launch_plan" && (
        <p>
          State: <strong>{(entity.closure || {}).state || "INACTIVE"}</strong>
          {spec.workflow_id && (
            <>
              {" "}· workflow{" "}
              <Link href={`/projects/${spec.workflow_id.project}/domains/${spec.workflow_id.domain}/workflows/${spec.workflow_id.name}/version/${spec.workflow_id.version}`}>{spec.workflow_id.name}</Link>
            </>
          )}
          {spec.entity_metadata && spec.entity_metadata.schedule && <> · schedule <code>{JSON.stringify(spec.entity_metadata.schedule)}</code></>}
        </p>
      )}
      {launchable && (
        <p>
          <Link className="button primary" href={`/projects/${project}/domains/${domain}/launch/${name}/${version}`}>
            Launch {name}
          </Link>
        </p>
      )}
      <div className="interface">
        <VariablesTable title="Inputs" variables={(iface.inputs || {}).variables || {}} params={params} fixed={fixed} />
        <VariablesTable title="Outputs" variables={(iface.outputs || {}).variables || {}} />
      </div>
    </div>
  );
}

function VariablesTable({ title, variables, params = {}, fixed = {} }) {
  const names = Object.keys(variables);
  return (
    <div>
      <h2>{title}</h2>
      {names.length === 0 ? (
        <p className="muted">none</p>
      ) : (
        <table className="table" aria-label={title}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Description</th>
              {title === "Inputs" && <th scope="col">Default</th>}
            </tr>
          </thead>
          <tbody>
            {names.map((n) => {
              const p = params[n];
              const dflt = n in fixed ? `fixed: ${JSON.stringify(fixed[n])}` : p && p.default ? JSON.stringify(literalValue(p.default)) : p && p.required ? "required" : "";
              return (
                <tr key={n}>
                  <td>
                    <code>{n}</code>
                  </td>
                  <td>{typeName(variables[n].type)}</td>
                  <td>{variables[n].description}</td>
                  {title === "Inputs" && <td>{dflt}</td>}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

export { Json };
