import { useState } from "react";
import { Link } from "wouter";
import { api } from "../api.js";
import { ErrorBox, ExecutionLink, Loading, Phase, formatDuration, formatTime, useData } from "../util.jsx";

const PHASES = ["UNDEFINED", "QUEUED", "RUNNING", "SUCCEEDING", "SUCCEEDED", "FAILING", "FAILED", "ABORTED", "TIMED_OUT", "ABORTING"];
const SORTS = [
  ["created_at:DESCENDING", "Newest first"],
  ["created_at:ASCENDING", "Oldest first"],
  ["duration:DESCENDING", "Longest first"],
  ["duration:ASCENDING", "Shortest first"],
];

// Escapes a user's text for admin's filter syntax (values end at ")" and lists split on ";").
function filterValue(text) {
  return text.trim().replace(/[();+]/g, "");
}

export function buildFilters({ phase, workflow, launchPlan, cluster, since, until }) {
  const parts = [];
  if (phase) parts.push(`eq(phase,${phase})`);
  if (workflow.trim()) parts.push(`eq(workflow.name,${filterValue(workflow)})`);
  if (launchPlan.trim()) parts.push(`eq(launch_plan.name,${filterValue(launchPlan)})`);
  if (cluster.trim()) parts.push(`eq(cluster,${filterValue(cluster)})`);
  if (since) parts.push(`gte(execution_created_at,${new Date(since).toISOString()})`);
  if (until) parts.push(`lte(execution_created_at,${new Date(until).toISOString()})`);
  return parts.join("+");
}

const EMPTY = { phase: "", workflow: "", launchPlan: "", cluster: "", since: "", until: "" };

export function ExecutionsTable({ project, domain, fixedFilters = {} }) {
  const [filters, setFilters] = useState({ ...EMPTY, ...fixedFilters });
  const [sort, setSort] = useState(SORTS[0][0]);
  const [tokens, setTokens] = useState([""]); // tokens of the pages seen: the last one is the current page
  const token = tokens[tokens.length - 1];
  const [sortKey, sortDirection] = sort.split(":");
  const filterText = buildFilters(filters);
  const state = useData(() => api.executions(project, domain, { filters: filterText, token, sortKey, sortDirection }), [project, domain, filterText, token, sort], {
    intervalMs: 3000,
  });
  const set = (key) => (event) => {
    setFilters({ ...filters, [key]: event.target.value });
    setTokens([""]);
  };
  return (
    <div>
      <form className="filters" aria-label="Execution filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Phase
          <select value={filters.phase} onChange={set("phase")}>
            <option value="">any</option>
            {PHASES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label>
          Workflow
          <input value={filters.workflow} onChange={set("workflow")} placeholder="name" />
        </label>
        <label>
          Launch plan
          <input value={filters.launchPlan} onChange={set("launchPlan")} placeholder="name" />
        </label>
        <label>
          Cluster
          <input value={filters.cluster} onChange={set("cluster")} placeholder="name" />
        </label>
        <label>
          Created after
          <input type="datetime-local" value={filters.since} onChange={set("since")} />
        </label>
        <label>
          Created before
          <input type="datetime-local" value={filters.until} onChange={set("until")} />
        </label>
        <label>
          Sort
          <select value={sort} onChange={(e) => (setSort(e.target.value), setTokens([""]))}>
            {SORTS.map(([key, label]) => (
              <option key={key} value={key}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </form>
      {state.error && state.data !== undefined && <ErrorBox error={state.error} />}
      <Loading state={state}>
        {(data) => (
          <>
            <table className="table" aria-label="Executions">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Phase</th>
                  <th scope="col">Launch plan</th>
                  <th scope="col">Created</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Cluster</th>
                </tr>
              </thead>
              <tbody>
                {(data.executions || []).map((e) => (
                  <tr key={e.id.name}>
                    <td>
                      <ExecutionLink id={e.id} />
                    </td>
                    <td>
                      <Phase phase={e.closure.phase} />
                    </td>
                    <td>
                      {e.spec.launch_plan && e.spec.launch_plan.name ? (
                        <Link href={`/projects/${project}/domains/${domain}/launch_plans/${e.spec.launch_plan.name}`}>{e.spec.launch_plan.name}</Link>
                      ) : (
                        "—"
                      )}
                    </td>
                    <td>{formatTime(e.closure.created_at)}</td>
                    <td>{formatDuration(e.closure.duration)}</td>
                    <td>{(e.spec.metadata && e.spec.metadata.system_metadata && e.spec.metadata.system_metadata.execution_cluster) || "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {(data.executions || []).length === 0 && <p className="muted">No executions match.</p>}
            <div className="pager">
              <button type="button" disabled={tokens.length < 2} onClick={() => setTokens(tokens.slice(0, -1))}>
                Previous page
              </button>
              <span aria-live="polite">Page {tokens.length}</span>
              <button type="button" disabled={!data.token} onClick={() => setTokens([...tokens, data.token])}>
                Next page
              </button>
            </div>
          </>
        )}
      </Loading>
    </div>
  );
}
