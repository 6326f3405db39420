import { Link } from "wouter";
import { api } from "../api.js";
import { Breadcrumbs, Json, Loading, useData } from "../util.jsx";
import { ExecutionsTable } from "./executions.jsx";

const TABS = [
  ["executions", "Executions"],
  ["workflows", "Workflows"],
  ["tasks", "Tasks"],
  ["launch_plans", "Launch plans"],
  ["attributes", "Settings"],
];

export function DomainPage({ project, domain, tab }) {
  const current = TABS.some(([key]) => key === tab) ? tab : "executions";
  return (
    <section>
      <Breadcrumbs items={[["Projects", "/"], [project, `/projects/${project}`], [domain]]} />
      <h1>
        {project} / {domain}
      </h1>
      <nav aria-label="Sections" className="tabs">
        {TABS.map(([key, label]) => (
          <Link key={key} href={`/projects/${project}/domains/${domain}/${key}`} aria-current={key === current ? "page" : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      {current === "executions" && <ExecutionsTable project={project} domain={domain} />}
      {current === "workflows" && <EntityList kind="workflow" project={project} domain={domain} />}
      {current === "tasks" && <EntityList kind="task" project={project} domain={domain} />}
      {current === "launch_plans" && <EntityList kind="launch_plan" project={project} domain={domain} />}
      {current === "attributes" && <Attributes project={project} domain={domain} />}
    </section>
  );
}

function EntityList({ kind, project, domain }) {
  const state = useData(
    async () => {
      const ids = await api.entityIds(kind, project, domain);
      const active = kind === "launch_plan" ? await api.activeLaunchPlans(project, domain) : { launch_plans: [] };
      return { entities: ids.entities || [], active: new Set((active.launch_plans || []).map((lp) => lp.id.name)) };
    },
    [kind, project, domain],
  );
  return (
    <Loading state={state}>
      {({ entities, active }) =>
        entities.length === 0 ? (
          <p className="muted">Nothing registered yet.</p>
        ) : (
          <table className="table">
            <caption className="sr-only">{kind.replace("_", " ")}s</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                {kind === "launch_plan" && <th scope="col">Schedule / trigger</th>}
              </tr>
            </thead>
            <tbody>
              {entities.map((e) => (
                <tr key={e.name}>
                  <td>
                    <Link href={`/projects/${project}/domains/${domain}/${kind}s/${e.name}`}>{e.name}</Link>
                  </td>
                  {kind === "launch_plan" && <td>{active.has(e.name) ? "active" : "inactive"}</td>}
                </tr>
              ))}
            </tbody>
          </table>
        )
      }
    </Loading>
  );
}

const RESOURCE_TYPES = [
  "TASK_RESOURCE",
  "CLUSTER_RESOURCE",
  "EXECUTION_QUEUE",
  "EXECUTION_CLUSTER_LABEL",
  "QUALITY_OF_SERVICE_SPECIFICATION",
  "PLUGIN_OVERRIDE",
  "WORKFLOW_EXECUTION_CONFIG",
  "CLUSTER_ASSIGNMENT",
];

// Matchable attributes that apply to the project/domain (read-only): project-wide, domain-wide and per workflow.
function Attributes({ project, domain }) {
  const state = useData(
    async () => {
      const found = [];
      for (const type of RESOURCE_TYPES) {
        const reply = await api.matchableAttributes(type);
        for (const c of reply.configurations || []) {
          if (c.project && c.project !== project) continue;
          if (c.domain && c.domain !== domain) continue;
          const scope = [c.project || "*", c.domain || "*", c.workflow || c.launch_plan || ""].filter(Boolean).join("/");
          found.push([`${type} · ${scope}`, c.attributes]);
        }
      }
      return found;
    },
    [project, domain],
  );
  return (
    <Loading state={state}>
      {(found) =>
        found.length === 0 ? (
          <p className="muted">No matchable attributes set for {project}/{domain}.</p>
        ) : (
          <dl className="attributes">
            {found.map(([type, value]) => (
              <div key={type}>
                <dt>{type}</dt>
                <dd>
                  <Json value={value} label={type} />
                </dd>
              </div>
            ))}
          </dl>
        )
      }
    </Loading>
  );
}
