import { useState } from "react";
import { useLocation } from "wouter";
import { api, uploadFile } from "../api.js";
import { InputError, formText, isOptional, literalValue, textToLiteral, typeName, widgetFor } from "../literals.js";
import { Breadcrumbs, ErrorBox, Loading, executionPath, useData } from "../util.jsx";

// The launch form, generated from the launch plan's interface (a workflow launches through its default launch plan,
// registered by flytekit under the workflow's name and version).
export function LaunchPage({ project, domain, name, version }) {
  const state = useData(() => api.entity("launch_plan", { project, domain, name, version }), [project, domain, name, version]);
  return (
    <section>
      <Breadcrumbs items={[["Projects", "/"], [project, `/projects/${project}`], [domain, `/projects/${project}/domains/${domain}`], [name, `/projects/${project}/domains/${domain}/launch_plans/${name}`], ["Launch"]]} />
      <h1>Launch {name}</h1>
      <p className="muted">launch plan version {version}</p>
      <Loading state={state}>{(lp) => <LaunchForm launchPlan={lp} />}</Loading>
    </section>
  );
}

function LaunchForm({ launchPlan }) {
  const [, navigate] = useLocation();
  const params = ((launchPlan.closure || {}).expected_inputs || {}).parameters || {};
  const fixed = ((launchPlan.spec || {}).fixed_inputs || {}).literals || {};
  const names = Object.keys(params).sort((a, b) => Number(!!params[a].default) - Number(!!params[b].default) || a.localeCompare(b));
  const [values, setValues] = useState(() => Object.fromEntries(names.map((n) => [n, formText(params[n].var.type, params[n].default)])));
  const [errors, setErrors] = useState({});
  const [submitError, setSubmitError] = useState(null);
  const [busy, setBusy] = useState(false);

  const collect = () => {
    const literals = {};
    const problems = {};
    for (const n of names) {
      const { type } = params[n].var;
      const text = values[n] ?? "";
      if (text.trim() === "" && widgetFor(type) !== "text") {
        if (params[n].default) continue; // admin applies the launch plan's default
        if (!isOptional(type)) {
          problems[n] = "a value is required";
          continue;
        }
      }
      try {
        literals[n] = textToLiteral(type, text);
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        problems[n] = e.message;
      }
    }
    return { literals, problems };
  };

  const submit = async (event) => {
    event.preventDefault();
    const { literals, problems } = collect();
    setErrors(problems);
    setSubmitError(null);
    if (Object.keys(problems).length) {
      const first = document.getElementById(`input-${Object.keys(problems)[0]}`);
      if (first) first.focus();
      return;
    }
    setBusy(true);
    try {
      const { id } = launchPlan;
      const reply = await api.createExecution({
        project: id.project,
        domain: id.domain,
        spec: { launch_plan: { ...id, resource_type: "LAUNCH_PLAN" }, metadata: { mode: "MANUAL" } },
        inputs: { literals },
      });
      navigate(executionPath(reply.id));
    } catch (e) {
      setSubmitError(e);
      setBusy(false);
    }
  };

  return (
    <form className="launch-form" onSubmit={submit} noValidate aria-label="Launch form">
      {names.length === 0 && <p className="muted">This launch plan takes no inputs.</p>}
      {names.map((n) => (
        <InputField key={n} name={n} launchPlanId={launchPlan.id} param={params[n]} value={values[n]} error={errors[n]} onChange={(text) => setValues({ ...values, [n]: text })} />
      ))}
      {Object.keys(fixed).length > 0 && (
        <fieldset>
          <legend>Fixed inputs (set by the launch plan)</legend>
          <dl>
            {Object.entries(fixed).map(([k, v]) => (
              <div key={k}>
                <dt>
                  <code>{k}</code>
                </dt>
                <dd>
                  <code>{JSON.stringify(literalValue(v))}</code>
                </dd>
              </div>
            ))}
          </dl>
        </fieldset>
      )}
      {submitError && <ErrorBox error={submitError} />}
      {Object.keys(errors).length > 0 && (
        <p className="error-text" role="alert">
          Fix {Object.keys(errors).length} input{Object.keys(errors).length > 1 ? "s" : ""} before launching.
        </p>
      )}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? "Launching…" : "Launch"}
      </button>
    </form>
  );
}

function hintFor(type) {
  const widget = widgetFor(type);
  if (widget === "json") {
    if (type.simple === "STRUCT") return "a JSON object" + (type.metadata && type.metadata.properties ? ` with fields ${Object.keys(type.metadata.properties).join(", ")}` : "");
    if (type.collection_type) return "a JSON list, e.g. [1, 2, 3]";
    if (type.map_value_type) return 'a JSON object, e.g. {"key": value}';
    return "JSON";
  }
  if (widget === "blob") return type.blob.dimensionality === "MULTIPART" ? "a directory URI (s3://…) or path" : "a file URI (s3://…) or path, or upload one";
  if (widget === "union") return isOptional(type) ? "optional: leave empty for None" : "a value of one of the types (JSON)";
  if (type.simple === "DURATION") return 'seconds, e.g. "90s"';
  return "";
}

function Uploader({ name, launchPlanId, onUploaded }) {
  const [status, setStatus] = useState("");
  const upload = async (event) => {
    const file = event.target.files && event.target.files[0];
    if (!file) return;
    setStatus(`uploading ${file.name}…`);
    try {
      onUploaded(await uploadFile(launchPlanId.project, launchPlanId.domain, file));
      setStatus(`uploaded ${file.name}`);
    } catch (e) {
      setStatus(`upload failed: ${e.message}`);
    }
  };
  return (
    <span className="uploader">
      <label>
        Upload a file for {name}
        <input type="file" onChange={upload} />
      </label>
      <span role="status">{status}</span>
    </span>
  );
}

function InputField({ name, launchPlanId, param, value, error, onChange }) {
  const { type, description } = param.var;
  const id = `input-${name}`;
  const widget = widgetFor(type);
  const hint = [description !== name ? description : "", hintFor(type), param.default ? "has a default" : param.required ? "required" : ""].filter(Boolean).join(" · ");
  const common = {
    id,
    name,
    "aria-invalid": error ? "true" : undefined,
    "aria-describedby": `${id}-hint${error ? ` ${id}-error` : ""}`,
    required: !!param.required && !param.default,
  };
  let control;
  if (widget === "boolean") {
    control = (
      <select {...common} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    );
  } else if (widget === "enum") {
    control = (
      <select {...common} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">choose…</option>
        {(type.enum_type.values || []).map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    );
  } else if (widget === "json" || (widget === "union" && value.includes("\n"))) {
    control = <textarea {...common} rows={Math.min(10, Math.max(3, value.split("\n").length))} value={value} onChange={(e) => onChange(e.target.value)} spellCheck={false} />;
  } else {
    control = <input {...common} type={widget === "number" ? "text" : widget === "datetime" ? "datetime-local" : "text"} inputMode={widget === "number" ? "decimal" : undefined} value={value} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <div className={`field${error ? " invalid" : ""}`}>
      <label htmlFor={id}>
        <code>{name}</code> <span className="type">{typeName(type)}</span>
      </label>
      {control}
      {widget === "blob" && type.blob.dimensionality !== "MULTIPART" && <Uploader name={name} launchPlanId={launchPlanId} onUploaded={onChange} />}
      <small id={`${id}-hint`} className="muted">
        {hint}
      </small>
      {error && (
        <small id={`${id}-error`} className="error-text">
          {error}
        </small>
      )}
    </div>
  );
}
