import { memo, useMemo } from "react";
import dagre from "@dagrejs/dagre";

const NODE_W = 170;
const NODE_H = 44;

export function nodeLabel(node) {
  if (node.id === "start-node") return "start";
  if (node.id === "end-node") return "end";
  const ref = (node.task_node && node.task_node.reference_id) || (node.workflow_node && (node.workflow_node.sub_workflow_ref || node.workflow_node.launchplan_ref));
  const full = (node.metadata && node.metadata.name) || (ref && ref.name) || node.id;
  return full.split(".").pop();
}

export function nodeKind(node) {
  if (node.task_node) return "task";
  if (node.workflow_node) return node.workflow_node.launchplan_ref ? "launch plan" : "subworkflow";
  if (node.branch_node) return "branch";
  if (node.gate_node) return "gate";
  if (node.array_node) return "map";
  return "";
}

// The compiled workflow's nodes laid out by dagre (left to right), edges from `connections.downstream`.
export function layoutGraph(template, connections) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 48, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const nodes = [{ id: "start-node" }, ...(template.nodes || []), { id: "end-node" }];
  const known = new Set(nodes.map((n) => n.id));
  for (const node of nodes) g.setNode(node.id, { width: NODE_W, height: NODE_H, node });
  for (const [from, to] of Object.entries((connections && connections.downstream) || {})) {
    for (const target of to.ids || []) if (known.has(from) && known.has(target)) g.setEdge(from, target);
  }
  dagre.layout(g);
  const graph = g.graph();
  return {
    width: graph.width || 0,
    height: graph.height || 0,
    nodes: g.nodes().map((id) => ({ id, ...g.node(id) })),
    edges: g.edges().map((e) => ({ key: `${e.v}->${e.w}`, points: g.edge(e).points })),
  };
}

// memo: the execution page re-renders on every poll; the graph only when its phases or selection change.
export const WorkflowGraph = memo(function WorkflowGraph({ template, connections, phases, selected, onSelect, onIntent, label = "Workflow graph" }) {
  const layout = useMemo(() => layoutGraph(template, connections), [template, connections]);
  return (
    <div className="graph-scroll">
      <svg width={layout.width} height={layout.height} role="group" aria-label={label} className="graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="arrowhead" />
          </marker>
        </defs>
        {layout.edges.map((e) => (
          <polyline key={e.key} className="edge" points={e.points.map((p) => `${p.x},${p.y}`).join(" ")} markerEnd="url(#arrow)" />
        ))}
        {layout.nodes.map((n) => {
          const phase = phases[n.id] || (n.id === "start-node" || n.id === "end-node" ? "" : "UNDEFINED");
          const label = nodeLabel(n.node);
          const select = () => n.id !== "start-node" && n.id !== "end-node" && onSelect(n.id);
          const interactive = n.id !== "start-node" && n.id !== "end-node";
          // Intent to open a node (pointer over it, keyboard focus): its details start loading before the click.
          const intent = interactive && onIntent ? () => onIntent(n.id) : undefined;
          return (
            <g
              key={n.id}
              transform={`translate(${n.x - NODE_W / 2},${n.y - NODE_H / 2})`}
              className={`gnode phase-${phase || "NONE"}${selected === n.id ? " selected" : ""}`}
              role={interactive ? "button" : undefined}
              tabIndex={interactive ? 0 : undefined}
              aria-label={interactive ? `node ${n.id} ${label} ${phase}` : label}
              aria-pressed={interactive ? selected === n.id : undefined}
              data-node-id={n.id}
              data-phase={phase}
              onClick={select}
              onPointerEnter={intent}
              onFocus={intent}
              onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), select())}
            >
              <rect width={NODE_W} height={NODE_H} rx="6" />
              <text x="10" y="18" className="glabel">
                {label.length > 22 ? label.slice(0, 21) + "…" : label}
              </text>
              <text x="10" y="35" className="gsub">
                {interactive ? `${n.id} · ${nodeKind(n.node)}${phase && phase !== "UNDEFINED" ? " · " + phase : ""}` : ""}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
});
