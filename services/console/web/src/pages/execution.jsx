import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { Link, useLocation } from "wouter";
import { api, listAll } from "../api.js";
import { literalMapValues } from "../literals.js";
import { Breadcrumbs, ErrorBox, ExecutionLink, Json, Loading, Phase, executionPath, formatDuration, formatTime, isTerminal, seconds, useData } from "../util.jsx";
import { WorkflowGraph, nodeKind, nodeLabel } from "./graph.jsx";

const POLL_MS = 1500;

// Registered workflows never change: fetched once per page view, and started as soon as the execution names it
// (before React renders anything), so the graph does not wait for a second round trip after the first render.
const workflows = new Map();

function workflowOf(execution) {
  const wid = execution.closure.workflow_id;
  if (!wid || !wid.name) return Promise.resolve({ workflow: null });
  const key = [wid.project, wid.domain, wid.name, wid.version].join("/");
  if (!workflows.has(key)) {
    const loading = api.entity("workflow", wid).then(
      (workflow) => ({ workflow }),
      (error) => (workflows.delete(key), { workflow: null, workflowError: error }),
    );
    workflows.set(key, loading);
  }
  return workflows.get(key);
}

// What an execution or node shows once it is terminal (its data, a node's task attempts) never changes: memoised
// per entity and phase, so it can be fetched before it is asked for — a node's details on hover/focus, and a map
// node's once the graph is drawn (its subtasks are what a user opens it for) — and reopening costs no request.
// (Nothing is fetched ahead of the graph: on a busy admin it would delay the graph itself.)
// Bounded (oldest first out): a long session of browsing executions does not keep every payload.
const terminalData = new Map();
const TERMINAL_DATA_MAX = 200;

function onceTerminal(phase, key, load) {
  if (!isTerminal(phase)) return load();
  const full = `${key}/${phase}`;
  if (!terminalData.has(full)) {
    terminalData.set(full, load().catch((error) => (terminalData.delete(full), Promise.reject(error))));
    if (terminalData.size > TERMINAL_DATA_MAX) terminalData.delete(terminalData.keys().next().value);
  }
  return terminalData.get(full);
}

function memoised(node, what, load) {
  const { execution_id: e, node_id: n } = node.id;
  return onceTerminal(node.closure.phase, [e.project, e.domain, e.name, n, what].join("/"), load);
}

function executionData(id, phase) {
  return onceTerminal(phase, [id.project, id.domain, id.name].join("/"), () => api.executionData(id));
}

function nodeData(node) {
  return memoised(node, "data", () => api.nodeExecutionData(node.id.execution_id, node.id.node_id));
}

// Task attempts of task and map nodes (and of nodes whose template is unknown, e.g. a dynamic node's children).
function nodeAttempts(node, template) {
  const hasTasks = (template && template.task_node) || (node.metadata && node.metadata.is_array) || !template;
  if (!hasTasks) return Promise.resolve({ task_executions: [] });
  return memoised(node, "attempts", () => api.taskExecutions(node.id.execution_id, node.id.node_id));
}

function prefetch(node, template) {
  if (!node || !isTerminal(node.closure.phase)) return;
  // Errors surface when the details open (and fetch again): nothing to report here.
  nodeData(node).catch(() => {});
  nodeAttempts(node, template).catch(() => {});
}

function specNodeId(node) {
  return node.metadata && node.metadata.spec_node_id ? node.metadata.spec_node_id : node.id.node_id;
}

async function loadExecution(id) {
  const nodesLoading = listAll((token) => api.nodeExecutions(id, undefined, token));
  const execution = await api.execution(id);
  const [nodes, workflow] = await Promise.all([nodesLoading, workflowOf(execution)]);
  return { execution, nodes, ...workflow };
}

export function ExecutionPage({ project, domain, name }) {
  const id = { project, domain, name };
  const state = useData(() => loadExecution(id), [project, domain, name], {
    intervalMs: POLL_MS,
    // One more round after the execution ends, so the last node events are shown too.
    keepPolling: (d) => !isTerminal(d.execution.closure.phase) || !d.nodes.every((n) => isTerminal(n.closure.phase) || n.closure.phase === "UNDEFINED"),
  });
  return (
    <section>
      <Breadcrumbs items={[["Projects", "/"], [project, `/projects/${project}`], [domain, `/projects/${project}/domains/${domain}`], ["Executions", `/projects/${project}/domains/${domain}/executions`], [name]]} />
      <Loading state={state}>{(data) => <ExecutionView {...data} />}</Loading>
    </section>
  );
}

function ExecutionView({ execution, nodes, workflow, workflowError }) {
  const { id, spec, closure } = execution;
  const [selected, setSelected] = useState(null);
  const workflowId = closure.workflow_id;
  const byNode = useMemo(() => Object.fromEntries(nodes.map((n) => [specNodeId(n), n])), [nodes]);
  // Same phases, same object: the graph (memo) re-renders only when a phase changes, not on every poll.
  const phasesKey = nodes.map((n) => `${specNodeId(n)}=${n.closure.phase}`).join(",");
  const phases = useMemo(() => Object.fromEntries(Object.entries(byNode).map(([k, n]) => [k, n.closure.phase])), [phasesKey]); // eslint-disable-line react-hooks/exhaustive-deps
  const compiled = workflow && workflow.closure && workflow.closure.compiled_workflow;
  const templates = useMemo(() => Object.fromEntries(((compiled && compiled.primary.template.nodes) || []).map((n) => [n.id, n])), [compiled]);
  const parent = spec.metadata && spec.metadata.parent_node_execution;
  useEffect(() => {
    for (const n of nodes) if (n.metadata && n.metadata.is_array) prefetch(n, templates[specNodeId(n)]);
  }, [nodes, templates]);
  // Stable across polls (the graph is memoised), reading the latest nodes.
  const latest = useRef(null);
  latest.current = { byNode, templates };
  const onIntent = useCallback((nodeId) => prefetch(latest.current.byNode[nodeId], latest.current.templates[nodeId]), []);
  return (
    <>
      <div className="exec-header">
        <h1>
          Execution {id.name} <Phase phase={closure.phase} />
        </h1>
        <Actions execution={execution} />
      </div>
      <dl className="facts">
        <div>
          <dt>Launch plan</dt>
          <dd>
            {spec.launch_plan && spec.launch_plan.name ? (
              <Link href={`/projects/${spec.launch_plan.project}/domains/${spec.launch_plan.domain}/launch_plans/${spec.launch_plan.name}/version/${spec.launch_plan.version}`}>{spec.launch_plan.name}</Link>
            ) : (
              "—"
            )}
          </dd>
        </div>
        <div>
          <dt>Workflow</dt>
          <dd>{workflowId && workflowId.name ? <Link href={`/projects/${workflowId.project}/domains/${workflowId.domain}/workflows/${workflowId.name}/version/${workflowId.version}`}>{workflowId.name}</Link> : "—"}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatTime(closure.created_at)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(closure.duration)}</dd>
        </div>
        <div>
          <dt>Mode</dt>
          <dd>{(spec.metadata && spec.metadata.mode) || "—"}</dd>
        </div>
        {parent && parent.execution_id && (
          <div>
            <dt>Parent</dt>
            <dd>
              <ExecutionLink id={parent.execution_id} /> (node {parent.node_id})
            </dd>
          </div>
        )}
      </dl>
      {closure.error && <ExecError error={closure.error} />}
      {closure.abort_metadata && closure.abort_metadata.cause && <p className="muted">Aborted: {closure.abort_metadata.cause}</p>}
      <h2>Graph</h2>
      {workflowError && <ErrorBox error={workflowError} />}
      {compiled ? (
        <WorkflowGraph template={compiled.primary.template} connections={compiled.primary.connections} phases={phases} selected={selected} onSelect={setSelected} onIntent={onIntent} />
      ) : (
        !workflowError && <p className="muted">No graph: the execution names no workflow.</p>
      )}
      {selected && byNode[selected] === undefined && <p className="muted">Node {selected} has not started.</p>}
      {selected && byNode[selected] && (
        <NodeDetails key={selected} node={byNode[selected]} compiled={compiled} template={templates[selected]} onClose={() => setSelected(null)} />
      )}
      <h2>Timeline</h2>
      <Timeline nodes={nodes} start={closure.started_at || closure.created_at} onSelect={setSelected} />
      <ExecutionIO id={id} phase={closure.phase} />
    </>
  );
}

function ExecError({ error }) {
  return (
    <div className="error-box" role="alert">
      <strong>
        {error.kind || "UNKNOWN"} error{error.code ? ` (${error.code})` : ""}
      </strong>
      <pre className="error-message">{error.message}</pre>
      {error.error_uri && <small>{error.error_uri}</small>}
    </div>
  );
}

function Actions({ execution }) {
  const [, navigate] = useLocation();
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState("");
  const { id, closure } = execution;
  const act = (label, run) => async () => {
    setBusy(label);
    setError(null);
    try {
      await run();
    } catch (e) {
      setError(e);
    } finally {
      setBusy("");
    }
  };
  const terminal = isTerminal(closure.phase);
  return (
    <div className="actions">
      <button type="button" disabled={!!busy} onClick={act("relaunch", async () => navigate(executionPath((await api.relaunch(id)).id)))}>
        Relaunch
      </button>
      {closure.phase === "FAILED" && (
        <button type="button" disabled={!!busy} onClick={act("recover", async () => navigate(executionPath((await api.recover(id)).id)))}>
          Recover
        </button>
      )}
      {!terminal && (
        <button type="button" className="danger" disabled={!!busy} onClick={act("terminate", () => api.terminate(id, "terminated from the console"))}>
          Terminate
        </button>
      )}
      {busy && <span role="status">{busy}…</span>}
      {error && <ErrorBox error={error} />}
    </div>
  );
}

function ExecutionIO({ id, phase }) {
  const data = useData(() => executionData(id, phase), [id.name, phase]);
  return (
    <div className="io">
      <div>
        <h2>Inputs</h2>
        {data.data ? <Json value={literalMapValues(data.data.full_inputs)} label="Execution inputs" /> : <p className="muted">…</p>}
      </div>
      <div>
        <h2>Outputs</h2>
        {data.data ? <Json value={literalMapValues(data.data.full_outputs)} label="Execution outputs" /> : <p className="muted">…</p>}
      </div>
    </div>
  );
}

function Timeline({ nodes, start, onSelect }) {
  const t0 = new Date(start).getTime();
  const rows = nodes
    .filter((n) => n.closure.started_at)
    .map((n) => {
      const begin = (new Date(n.closure.started_at).getTime() - t0) / 1000;
      return { node: n, begin: Math.max(0, begin), length: seconds(n.closure.duration) };
    });
  const total = Math.max(1e-3, ...rows.map((r) => r.begin + r.length));
  if (rows.length === 0) return <p className="muted">No node has started yet.</p>;
  return (
    <table className="timeline" aria-label="Timeline">
      <tbody>
        {rows.map(({ node, begin, length }) => (
          <tr key={node.id.node_id}>
            <th scope="row">
              <button type="button" className="link" onClick={() => onSelect(node.metadata.spec_node_id || node.id.node_id)}>
                {node.id.node_id}
              </button>
            </th>
            <td className="bar-cell">
              <span className={`bar phase-${node.closure.phase}`} style={{ marginLeft: `${(begin / total) * 100}%`, width: `${Math.max(0.5, (length / total) * 100)}%` }} title={`${formatDuration(length)} from +${begin.toFixed(2)}s`} />
            </td>
            <td>{formatDuration(length)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function NodeDetails({ node, template, compiled, onClose, depth = 0 }) {
  const execId = node.id.execution_id;
  const nodeId = node.id.node_id;
  const phase = node.closure.phase;
  const io = useData(() => nodeData(node), [nodeId, phase]);
  const attempts = useData(() => nodeAttempts(node, template), [nodeId, phase]);
  const children = useData(
    () => (node.metadata && node.metadata.is_parent_node ? listAll((token) => api.nodeExecutions(execId, nodeId, token)) : Promise.resolve([])),
    [nodeId, phase],
  );
  const closure = node.closure;
  const Heading = depth ? "h3" : "h2";
  const cache = closure.task_node_metadata && closure.task_node_metadata.cache_status;
  const child = closure.workflow_node_metadata && closure.workflow_node_metadata.executionId;
  return (
    <aside className="node-details" aria-label={`Node ${nodeId}`}>
      <div className="node-details-head">
        <Heading>
          Node {nodeId} {template ? `· ${nodeLabel(template)} (${nodeKind(template)})` : ""} <Phase phase={phase} />
        </Heading>
        <button type="button" onClick={onClose} aria-label="Close node details">
          ×
        </button>
      </div>
      <dl className="facts">
        <div>
          <dt>Started</dt>
          <dd>{formatTime(closure.started_at)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(closure.duration)}</dd>
        </div>
        {cache && cache !== "CACHE_DISABLED" && (
          <div>
            <dt>Cache</dt>
            <dd>{cache}</dd>
          </div>
        )}
        {child && child.name && (
          <div>
            <dt>Child execution</dt>
            <dd>
              <ExecutionLink id={child} />
            </dd>
          </div>
        )}
      </dl>
      {closure.error && <ExecError error={closure.error} />}
      {closure.deck_uri && <DeckLink node={node} />}
      <h3>Attempts</h3>
      <Loading state={attempts}>{(data) => <Attempts executions={data.task_executions || []} />}</Loading>
      {node.metadata && node.metadata.is_parent_node && children.data && (
        <ChildNodes node={node} template={template} compiled={compiled} children={children.data} depth={depth} />
      )}
      {children.error && <ErrorBox error={children.error} />}
      <div className="io">
        <div>
          <h3>Inputs</h3>
          {io.data ? <Json value={literalMapValues(io.data.full_inputs)} label={`Inputs of ${nodeId}`} /> : io.error ? <ErrorBox error={io.error} /> : <p className="muted">…</p>}
        </div>
        <div>
          <h3>Outputs</h3>
          {io.data ? <Json value={literalMapValues(io.data.full_outputs)} label={`Outputs of ${nodeId}`} /> : <p className="muted">…</p>}
        </div>
      </div>
    </aside>
  );
}

function DeckLink({ node }) {
  const [error, setError] = useState(null);
  const open = async () => {
    try {
      const reply = await api.downloadLink({ node_execution_id: node.id, artifact_type: "ARTIFACT_TYPE_DECK" });
      const url = (reply.pre_signed_urls && reply.pre_signed_urls.signed_url && reply.pre_signed_urls.signed_url[0]) || (reply.signed_url && reply.signed_url[0]);
      if (url) window.open(url, "_blank", "noopener");
      else setError(new Error("admin returned no link for the deck"));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <p>
      <button type="button" onClick={open}>
        Open deck
      </button>
      {error && <ErrorBox error={error} />}
    </p>
  );
}

function Attempts({ executions }) {
  if (executions.length === 0) return <p className="muted">No task attempts.</p>;
  return (
    <ol className="attempts">
      {executions.map((t) => {
        const c = t.closure || {};
        const resources = (c.metadata && c.metadata.external_resources) || [];
        return (
          <li key={t.id.retry_attempt}>
            <div>
              Attempt {t.id.retry_attempt} <Phase phase={c.phase} /> {formatDuration(c.duration)}
              {c.reason && <span className="muted"> · {c.reason}</span>}
            </div>
            {c.error && (
              <small className="error-text">
                {c.error.kind}: {c.error.message && c.error.message.split("\n").slice(-1)[0]}
              </small>
            )}
            {(c.logs || []).length > 0 && (
              <ul className="logs">
                {c.logs.map((log, i) => (
                  <li key={i}>
                    <a href={log.uri} target="_blank" rel="noopener noreferrer">
                      {log.name || "log"}
                    </a>
                  </li>
                ))}
              </ul>
            )}
            {resources.length > 0 && <MapGrid resources={resources} />}
          </li>
        );
      })}
    </ol>
  );
}

// A map task's subtasks (the task execution's external resources): counts by phase, an overview with one cell per
// index coloured by phase (decorative: the list says the same), and the list itself — virtualised, so a map over
// thousands of items draws only the rows in view.
function MapGrid({ resources }) {
  const counts = useMemo(() => {
    const byPhase = {};
    for (const r of resources) byPhase[r.phase] = (byPhase[r.phase] || 0) + 1;
    return Object.entries(byPhase);
  }, [resources]);
  return (
    <div className="map-grid-wrap">
      <p>
        {resources.length} subtasks:{" "}
        {counts.map(([phase, n]) => (
          <span key={phase}>
            <Phase phase={phase} /> {n}{" "}
          </span>
        ))}
      </p>
      <div className="map-grid" aria-hidden="true">
        {resources.map((r, i) => (
          <span key={r.index ?? i} className={`cell phase-${r.phase}`} title={`#${r.index ?? i} ${r.phase}${r.retry_attempt ? ` (attempt ${r.retry_attempt})` : ""}`} />
        ))}
      </div>
      <SubtaskList resources={resources} />
    </div>
  );
}

const SUBTASK_ROW_PX = 28;

function SubtaskList({ resources }) {
  const scroller = useRef(null);
  const rows = useVirtualizer({ count: resources.length, getScrollElement: () => scroller.current, estimateSize: () => SUBTASK_ROW_PX, overscan: 8, useFlushSync: false });
  return (
    <div ref={scroller} className="subtasks" tabIndex={0} role="region" aria-label="Subtask list">
      <ol aria-label="Map subtasks" style={{ height: rows.getTotalSize() }}>
        {rows.getVirtualItems().map((row) => {
          const r = resources[row.index];
          return (
            <li key={row.key} aria-setsize={resources.length} aria-posinset={row.index + 1} style={{ height: SUBTASK_ROW_PX, transform: `translateY(${row.start}px)` }}>
              <span className="subtask-index">#{r.index ?? row.index}</span> <Phase phase={r.phase} />
              {r.retry_attempt ? <span className="muted"> attempt {r.retry_attempt}</span> : null}
              {(r.logs || []).map((log, i) => (
                <a key={i} href={log.uri} target="_blank" rel="noopener noreferrer">
                  {log.name || "log"}
                </a>
              ))}
            </li>
          );
        })}
      </ol>
    </div>
  );
}

// The inner workflow of a parent node, expanded: a subworkflow's graph from the closure's sub_workflows, a dynamic
// node's from admin's GetDynamicNodeWorkflow, else (branches, …) the child nodes as a list; each child opens its own
// details (recursively).
function ChildNodes({ node, template, compiled, children, depth }) {
  const [selected, setSelected] = useState(null);
  const execId = node.id.execution_id;
  const isDynamic = !!(node.metadata && node.metadata.is_dynamic);
  const dynamic = useData(
    () => (isDynamic ? api.dynamicWorkflow(execId, node.id.node_id) : Promise.resolve(null)),
    [node.id.node_id, isDynamic, node.closure.phase],
  );
  const subRef = template && template.workflow_node && template.workflow_node.sub_workflow_ref;
  let inner = null;
  if (subRef && compiled) {
    inner = (compiled.sub_workflows || []).find((w) => sameId(w.template.id, subRef)) || null;
  } else if (dynamic.data && dynamic.data.compiled_workflow) {
    const c = dynamic.data.compiled_workflow;
    inner = c.primary;
    compiled = { ...c, sub_workflows: [...(c.sub_workflows || []), ...((compiled && compiled.sub_workflows) || [])] };
  }
  const byNode = Object.fromEntries(children.map((c) => [c.metadata && c.metadata.spec_node_id ? c.metadata.spec_node_id : c.id.node_id, c]));
  const phases = Object.fromEntries(Object.entries(byNode).map(([k, c]) => [k, c.closure.phase]));
  const innerNodes = inner ? inner.template.nodes || [] : [];
  return (
    <div className="children">
      <h3>{inner ? (isDynamic ? "Dynamic workflow" : "Subworkflow") : "Child nodes"}</h3>
      {inner ? (
        <WorkflowGraph template={inner.template} connections={inner.connections} phases={phases} selected={selected} onSelect={setSelected} label={`Inner graph of ${node.id.node_id}`} />
      ) : (
        <ul>
          {children.map((c) => {
            const key = c.metadata && c.metadata.spec_node_id ? c.metadata.spec_node_id : c.id.node_id;
            return (
              <li key={c.id.node_id}>
                <button type="button" className="link" onClick={() => setSelected(key)} aria-pressed={selected === key}>
                  {c.id.node_id}
                </button>{" "}
                <Phase phase={c.closure.phase} /> {formatDuration(c.closure.duration)}
                {c.closure.error && <span className="error-text"> {c.closure.error.kind}: {c.closure.error.message.split("\n")[0]}</span>}
              </li>
            );
          })}
        </ul>
      )}
      {selected && byNode[selected] && (
        <NodeDetails
          key={selected}
          node={byNode[selected]}
          compiled={compiled}
          template={innerNodes.find((n) => n.id === selected) || branchTemplate(template, selected)}
          depth={depth + 1}
          onClose={() => setSelected(null)}
        />
      )}
    </div>
  );
}

function sameId(a, b) {
  return a && b && a.project === b.project && a.domain === b.domain && a.name === b.name && a.version === b.version;
}

// The branch node's case whose node id matches (if_else: case, other cases, else_node).
function branchTemplate(template, id) {
  const ifElse = template && template.branch_node && template.branch_node.if_else;
  if (!ifElse) return undefined;
  const candidates = [ifElse.case && ifElse.case.then_node, ...(ifElse.other || []).map((c) => c.then_node), ifElse.else_node];
  return candidates.find((n) => n && n.id === id);
}
