// flyteidl LiteralType / Literal (proto JSON) ⇄ what the console shows and what the launch form produces.

export function typeName(type) {
  if (!type) return "unknown";
  if (type.simple) {
    if (type.simple === "STRUCT") return type.metadata && type.metadata.title ? `dataclass ${type.metadata.title}` : "JSON (struct)";
    return type.simple.toLowerCase();
  }
  if (type.collection_type) return `list<${typeName(type.collection_type)}>`;
  if (type.map_value_type) return `map<string, ${typeName(type.map_value_type)}>`;
  if (type.enum_type) return `enum {${(type.enum_type.values || []).join(", ")}}`;
  if (type.blob) return type.blob.dimensionality === "MULTIPART" ? "directory" : "file";
  if (type.union_type) {
    const variants = type.union_type.variants || [];
    const nonNone = variants.filter((v) => v.simple !== "NONE");
    if (nonNone.length === 1 && nonNone.length < variants.length) return `optional<${typeName(nonNone[0])}>`;
    return `union<${variants.map(typeName).join(" | ")}>`;
  }
  if (type.schema) return "schema";
  if (type.structured_dataset_type) return "structured dataset";
  return "unknown";
}

function primitiveValue(p) {
  if ("integer" in p) return Number(p.integer);
  if ("float_value" in p) return p.float_value;
  if ("string_value" in p) return p.string_value;
  if ("boolean" in p) return p.boolean;
  if ("datetime" in p) return p.datetime;
  if ("duration" in p) return p.duration;
  return null;
}

function b64bytes(text) {
  const raw = atob(text || "");
  return raw.length;
}

// A literal as a plain JS value for display (files as their URI, structs as objects).
export function literalValue(lit) {
  if (!lit) return null;
  if (lit.collection) return (lit.collection.literals || []).map(literalValue);
  if (lit.map) return Object.fromEntries(Object.entries(lit.map.literals || {}).map(([k, v]) => [k, literalValue(v)]));
  if (lit.offloaded_metadata) return { offloaded: lit.offloaded_metadata.uri };
  const s = lit.scalar;
  if (!s) return null;
  if (s.primitive) return primitiveValue(s.primitive);
  if (s.generic) return s.generic;
  if (s.blob) return { uri: s.blob.uri, kind: s.blob.metadata && s.blob.metadata.type && s.blob.metadata.type.dimensionality === "MULTIPART" ? "directory" : "file" };
  if (s.union) return literalValue(s.union.value);
  if ("none_type" in s) return null;
  if (s.error) return { error: s.error.message, failed_node_id: s.error.failed_node_id };
  if (s.binary) return { binary: `${s.binary.tag || "bytes"}, ${b64bytes(s.binary.value)} bytes` };
  if (s.structured_dataset) return { uri: s.structured_dataset.uri };
  if (s.schema) return { uri: s.schema.uri };
  return null;
}

export function literalMapValues(map) {
  return Object.fromEntries(Object.entries((map && map.literals) || {}).map(([k, v]) => [k, literalValue(v)]));
}

// ---- launch form: a form value per type, and validation/conversion into a Literal -------------------------------

export class InputError extends Error {}

const prim = (p) => ({ scalar: { primitive: p } });

export function isOptional(type) {
  return !!(type && type.union_type && (type.union_type.variants || []).some((v) => v.simple === "NONE"));
}

// The editing widget a type gets: simple ones a typed field, everything structured a JSON text area.
export function widgetFor(type) {
  if (!type) return "json";
  if (type.simple === "BOOLEAN") return "boolean";
  if (type.simple === "INTEGER" || type.simple === "FLOAT") return "number";
  if (type.simple === "STRING" || type.simple === "DURATION") return "text";
  if (type.simple === "DATETIME") return "datetime";
  if (type.enum_type) return "enum";
  if (type.blob) return "blob";
  if (type.union_type) return "union";
  return "json";
}

// Default text for the form field from a literal default (the reverse of toLiteral).
export function formText(type, lit) {
  if (!lit) return type && type.simple === "BOOLEAN" ? "false" : "";
  const value = literalValue(lit);
  if (value === null || value === undefined) return "";
  const widget = widgetFor(type);
  if (widget === "blob") return value.uri || "";
  if (widget === "boolean") return value ? "true" : "false";
  if (widget === "union") {
    const v = lit.scalar && lit.scalar.union ? lit.scalar.union.value : lit;
    const variant = lit.scalar && lit.scalar.union ? lit.scalar.union.type : null;
    return formText(variant, v);
  }
  if (typeof value === "object") return JSON.stringify(value, null, 2);
  return String(value);
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`not valid JSON: ${e.message}`);
  }
}

// A JS value (from JSON) → Literal of `type`.
export function valueToLiteral(type, value) {
  if (type.union_type) {
    const variants = type.union_type.variants || [];
    if (value === null) {
      const none = variants.find((v) => v.simple === "NONE");
      if (!none) throw new InputError("null is not one of the union's types");
      return { scalar: { union: { value: { scalar: { none_type: {} } }, type: none } } };
    }
    const errors = [];
    for (const variant of variants.filter((v) => v.simple !== "NONE")) {
      try {
        return { scalar: { union: { value: valueToLiteral(variant, value), type: variant } } };
      } catch (e) {
        errors.push(`${typeName(variant)}: ${e.message}`);
      }
    }
    throw new InputError(`matches none of the union's types (${errors.join("; ")})`);
  }
  if (type.collection_type) {
    if (!Array.isArray(value)) throw new InputError("expected a JSON list");
    return { collection: { literals: value.map((item, i) => wrap(`[${i}]`, () => valueToLiteral(type.collection_type, item))) } };
  }
  if (type.map_value_type) {
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new InputError("expected a JSON object");
    const literals = {};
    for (const [k, v] of Object.entries(value)) literals[k] = wrap(`[${JSON.stringify(k)}]`, () => valueToLiteral(type.map_value_type, v));
    return { map: { literals } };
  }
  if (type.enum_type) {
    const values = type.enum_type.values || [];
    if (!values.includes(value)) throw new InputError(`must be one of ${values.join(", ")}`);
    return prim({ string_value: value });
  }
  if (type.blob) {
    if (typeof value !== "string" || !value) throw new InputError("expected a URI (s3://…, file:///…, or a path)");
    return { scalar: { blob: { uri: value, metadata: { type: { format: type.blob.format || "", dimensionality: type.blob.dimensionality || "SINGLE" } } } } };
  }
  switch (type.simple) {
    case "INTEGER":
      if (typeof value === "string" && /^-?\d+$/.test(value.trim())) value = Number(value);
      if (!Number.isInteger(value)) throw new InputError("expected an integer");
      return prim({ integer: String(value) });
    case "FLOAT":
      if (typeof value === "string" && value.trim() !== "" && !isNaN(Number(value))) value = Number(value);
      if (typeof value !== "number" || !isFinite(value)) throw new InputError("expected a number");
      return prim({ float_value: value });
    case "STRING":
      if (typeof value !== "string") throw new InputError("expected a string");
      return prim({ string_value: value });
    case "BOOLEAN":
      if (value === "true" || value === "false") value = value === "true";
      if (typeof value !== "boolean") throw new InputError("expected true or false");
      return prim({ boolean: value });
    case "DATETIME": {
      const date = new Date(value);
      if (typeof value !== "string" || isNaN(date.getTime())) throw new InputError("expected a date and time");
      return prim({ datetime: date.toISOString() });
    }
    case "DURATION":
      if (typeof value !== "string" || !/^-?\d+(\.\d+)?s$/.test(value.trim())) throw new InputError('expected a duration in seconds, e.g. "90s"');
      return prim({ duration: value.trim() });
    case "STRUCT":
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new InputError("expected a JSON object");
      checkAgainstSchema(type.metadata, value);
      return { scalar: { generic: value } };
    case "NONE":
      if (value !== null) throw new InputError("expected null");
      return { scalar: { none_type: {} } };
    default:
      throw new InputError(`inputs of type ${typeName(type)} cannot be entered in the form`);
  }
}

function wrap(where, produce) {
  try {
    return produce();
  } catch (e) {
    throw new InputError(`${where}: ${e.message}`);
  }
}

// flytekit puts the dataclass's JSON schema in the STRUCT type's metadata: check required fields and simple types.
function checkAgainstSchema(schema, value) {
  if (!schema || typeof schema !== "object") return;
  const props = schema.properties || {};
  for (const name of schema.required || []) {
    if (!(name in value)) throw new InputError(`missing field "${name}"`);
  }
  for (const [name, v] of Object.entries(value)) {
    const prop = props[name];
    if (!prop) {
      if (Object.keys(props).length && schema.additionalProperties === false) throw new InputError(`unknown field "${name}"`);
      continue;
    }
    const expected = prop.type;
    const ok =
      expected === "integer" ? Number.isInteger(v)
      : expected === "number" ? typeof v === "number"
      : expected === "string" ? typeof v === "string"
      : expected === "boolean" ? typeof v === "boolean"
      : expected === "array" ? Array.isArray(v)
      : expected === "object" ? v !== null && typeof v === "object"
      : true;
    if (!ok) throw new InputError(`field "${name}": expected ${expected}`);
  }
}

// The form's text for one input → Literal; `empty` text means "not given".
export function textToLiteral(type, text) {
  const widget = widgetFor(type);
  if (widget === "union") {
    if (text.trim() === "") return isOptional(type) ? valueToLiteral(type, null) : raise("a value is required");
    const nonNone = (type.union_type.variants || []).filter((v) => v.simple !== "NONE");
    // One real variant (Optional[T]): the text is that variant's text; else JSON picks the variant.
    if (nonNone.length === 1) return { scalar: { union: { value: textToLiteral(nonNone[0], text), type: nonNone[0] } } };
    return valueToLiteral(type, parseJsonOrString(text));
  }
  if (widget === "json") return valueToLiteral(type, parseJson(text));
  if (text.trim() === "" && widget !== "text") raise("a value is required");
  return valueToLiteral(type, widget === "text" ? text : text.trim());
}

function parseJsonOrString(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function raise(message) {
  throw new InputError(message);
}
