import { useEffect, useRef, useState } from "react";
import { Link } from "wouter";

export const TERMINAL = new Set(["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "SKIPPED", "RECOVERED"]);

export function isTerminal(phase) {
  return TERMINAL.has(phase);
}

// Loads `load()` when `deps` change; reloads every `intervalMs` while `keepPolling(data)` says so (live updates).
export function useData(load, deps, { intervalMs = 0, keepPolling = () => true } = {}) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const generation = useRef(0);
  useEffect(() => {
    const mine = ++generation.current;
    let timer;
    let stopped = false;
    const run = async () => {
      try {
        const data = await load();
        if (stopped || mine !== generation.current) return;
        setState({ data, error: undefined });
        if (intervalMs && keepPolling(data)) timer = setTimeout(run, intervalMs);
      } catch (error) {
        if (stopped || mine !== generation.current) return;
        setState((s) => ({ data: s.data, error }));
        if (intervalMs) timer = setTimeout(run, intervalMs * 2);
      }
    };
    setState({ data: undefined, error: undefined });
    run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps); // eslint-disable-line react-hooks/exhaustive-deps
  return state;
}

export function Loading({ state, children }) {
  if (state.error && state.data === undefined) return <ErrorBox error={state.error} />;
  if (state.data === undefined) return <p className="muted" role="status">Loading…</p>;
  return children(state.data);
}

export function ErrorBox({ error }) {
  return (
    <div className="error-box" role="alert">
      {error.status ? `Error ${error.status}: ` : ""}
      {error.message}
    </div>
  );
}

export function Phase({ phase }) {
  const label = (phase || "UNDEFINED").replace(/_/g, " ");
  return <span className={`phase phase-${phase || "UNDEFINED"}`}>{label}</span>;
}

// "12.5s" / proto Duration strings → seconds.
export function seconds(duration) {
  if (!duration) return 0;
  const n = parseFloat(String(duration).replace(/s$/, ""));
  return isNaN(n) ? 0 : n;
}

export function formatDuration(duration) {
  const s = typeof duration === "number" ? duration : seconds(duration);
  if (!s) return "—";
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatTime(ts) {
  if (!ts) return "—";
  const date = new Date(ts);
  return isNaN(date.getTime()) || date.getFullYear() < 1971 ? "—" : date.toLocaleString();
}

export function Json({ value, label }) {
  return (
    <pre className="json" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function executionPath(id) {
  return `/projects/${id.project}/domains/${id.domain}/executions/${id.name}`;
}

export function ExecutionLink({ id }) {
  return <Link href={executionPath(id)}>{id.name}</Link>;
}

export function Breadcrumbs({ items }) {
  return (
    <nav aria-label="Breadcrumb" className="breadcrumbs">
      <ol>
        {items.map(([label, href], i) => (
          <li key={i}>{href ? <Link href={href}>{label}</Link> : <span aria-current="page">{label}</span>}</li>
        ))}
      </ol>
    </nav>
  );
}
