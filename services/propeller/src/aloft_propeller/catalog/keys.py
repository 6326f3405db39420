"""Cache keys: how a task execution maps onto datacatalog datasets, tags and artifacts (pure functions).

Same definitions as Flyte's propeller (nodes/catalog/datacatalog/transformer.go), so a datacatalog populated by either
is readable by the other: dataset ``<project>/<domain>/flyte_task-<task name>`` at version
``<cache version>-<inputs interface hash[:8]>-<outputs interface hash[:8]>``, artifact tag
``flyte_cached-<hash of the inputs without cache_ignore_input_vars>``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from flyteidl.core import catalog_pb2, identifier_pb2, interface_pb2, literals_pb2
from flyteidl.datacatalog import datacatalog_pb2

from aloft_propeller.catalog.objecthash import compute_hash

CACHED_TASK_TAG = "flyte_cached"
TASK_NAMESPACE = "flyte_task"
MAX_PARAM_HASH_LENGTH = 8

TASK_VERSION_KEY = "task-version"
EXEC_NAME_KEY = "execution-name"
EXEC_DOMAIN_KEY = "exec-domain"
EXEC_PROJECT_KEY = "exec-project"
EXEC_NODE_ID_KEY = "exec-node"
EXEC_TASK_ATTEMPT_KEY = "exec-attempt"


class InvalidCacheKey(ValueError):
    """The task cannot be cached as declared (e.g. discoverable without a cache version)."""


@dataclass(frozen=True)
class CatalogKey:
    """Everything that identifies one cached result: the task, its cache version and interface, and the inputs."""

    task_id: identifier_pb2.Identifier
    cache_version: str
    interface: interface_pb2.TypedInterface
    inputs: literals_pb2.LiteralMap
    cache_ignore_input_vars: tuple[str, ...] = field(default=())


def key_for_task(
    task_id: identifier_pb2.Identifier,
    metadata: object,
    interface: interface_pb2.TypedInterface,
    inputs: literals_pb2.LiteralMap,
) -> CatalogKey:
    """The key of a task template's ``metadata`` (flyteidl TaskMetadata) for these inputs."""
    return CatalogKey(
        task_id=task_id,
        cache_version=getattr(metadata, "discovery_version", ""),
        interface=interface,
        inputs=inputs,
        cache_ignore_input_vars=tuple(getattr(metadata, "cache_ignore_input_vars", ())),
    )


def _short_hash(message: interface_pb2.VariableMap) -> str:
    return _b64url(compute_hash(message))[:MAX_PARAM_HASH_LENGTH]


def _b64url(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def task_signature_hash(interface: interface_pb2.TypedInterface) -> str:
    # Unset and empty variable maps hash alike (both are "{}" in JSON).
    return f"{_short_hash(interface.inputs)}-{_short_hash(interface.outputs)}"


def dataset_version(interface: interface_pb2.TypedInterface, cache_version: str) -> str:
    version = cache_version.strip(" ")
    if not version:
        raise InvalidCacheKey("a cached task needs a non-empty cache version (metadata.discovery_version)")
    return f"{version}-{task_signature_hash(interface)}"


def dataset_id(key: CatalogKey) -> datacatalog_pb2.DatasetID:
    return datacatalog_pb2.DatasetID(
        project=key.task_id.project,
        domain=key.task_id.domain,
        name=f"{TASK_NAMESPACE}-{key.task_id.name}",
        version=dataset_version(key.interface, key.cache_version),
    )


def inputs_hash(inputs: literals_pb2.LiteralMap, ignore: tuple[str, ...] = ()) -> str:
    """Hash of the inputs; a literal carrying its own ``hash`` contributes only that hash."""
    kept = {name: _hashify(literal) for name, literal in inputs.literals.items() if name not in ignore}
    return _b64url(compute_hash(literals_pb2.LiteralMap(literals=kept)))


def _hashify(literal: literals_pb2.Literal) -> literals_pb2.Literal:
    if literal.hash:
        return literals_pb2.Literal(hash=literal.hash)
    if literal.HasField("collection"):
        items = [_hashify(item) for item in literal.collection.literals]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    if literal.HasField("map"):
        entries = {name: _hashify(item) for name, item in literal.map.literals.items()}
        return literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=entries))
    return literal


def tag_name(key: CatalogKey) -> str:
    return f"{CACHED_TASK_TAG}-{inputs_hash(key.inputs, key.cache_ignore_input_vars)}"


def reservation_id(key: CatalogKey) -> datacatalog_pb2.ReservationID:
    return datacatalog_pb2.ReservationID(dataset_id=dataset_id(key), tag_name=tag_name(key))


def artifact_data(outputs: literals_pb2.LiteralMap) -> list[datacatalog_pb2.ArtifactData]:
    return [datacatalog_pb2.ArtifactData(name=name, value=value) for name, value in sorted(outputs.literals.items())]


def outputs_from_artifact(key: CatalogKey, artifact: datacatalog_pb2.Artifact) -> literals_pb2.LiteralMap:
    """The task outputs stored in ``artifact``; raises InvalidCacheKey if they don't fit the task's interface."""
    expected = key.interface.outputs.variables
    if not expected:
        return literals_pb2.LiteralMap()
    if len(artifact.data) != len(expected):
        raise InvalidCacheKey(
            f"artifact {artifact.id} holds {len(artifact.data)} outputs,"
            f" task {key.task_id.name} declares {len(expected)}"
        )
    outputs = literals_pb2.LiteralMap()
    for item in artifact.data:
        if item.name not in expected:
            raise InvalidCacheKey(f"artifact {artifact.id} output {item.name!r} is not an output of the task")
        outputs.literals[item.name].CopyFrom(item.value)
    return outputs


def dataset_metadata(source: identifier_pb2.TaskExecutionIdentifier | None) -> datacatalog_pb2.Metadata:
    if source is None:
        return datacatalog_pb2.Metadata()
    return datacatalog_pb2.Metadata(key_map={TASK_VERSION_KEY: source.task_id.version})


def artifact_metadata(source: identifier_pb2.TaskExecutionIdentifier | None) -> datacatalog_pb2.Metadata:
    if source is None:
        return datacatalog_pb2.Metadata()
    execution = source.node_execution_id.execution_id
    return datacatalog_pb2.Metadata(
        key_map={
            EXEC_PROJECT_KEY: execution.project,
            EXEC_DOMAIN_KEY: execution.domain,
            EXEC_NAME_KEY: execution.name,
            EXEC_NODE_ID_KEY: source.node_execution_id.node_id,
            EXEC_TASK_ATTEMPT_KEY: str(source.retry_attempt),
        }
    )


def source_from_metadata(
    dataset_md: datacatalog_pb2.Metadata, artifact_md: datacatalog_pb2.Metadata, task_id: identifier_pb2.Identifier
) -> identifier_pb2.TaskExecutionIdentifier:
    """The task execution that produced a cached artifact (``unknown`` where the catalog didn't record it)."""
    art = artifact_md.key_map
    attempt = art.get(EXEC_TASK_ATTEMPT_KEY, "0")
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=identifier_pb2.Identifier(
            resource_type=task_id.resource_type,
            project=task_id.project,
            domain=task_id.domain,
            name=task_id.name,
            version=dataset_md.key_map.get(TASK_VERSION_KEY, "unknown"),
        ),
        retry_attempt=int(attempt) if attempt.isdigit() else 0,
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(
            node_id=art.get(EXEC_NODE_ID_KEY, "unknown"),
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project=art.get(EXEC_PROJECT_KEY, task_id.project),
                domain=art.get(EXEC_DOMAIN_KEY, task_id.domain),
                name=art.get(EXEC_NAME_KEY, "unknown"),
            ),
        ),
    )


def event_catalog_metadata(
    dataset: datacatalog_pb2.DatasetID,
    tag: datacatalog_pb2.Tag | None = None,
    source: identifier_pb2.TaskExecutionIdentifier | None = None,
) -> catalog_pb2.CatalogMetadata:
    """The ``catalog_key`` reported in node and task events."""
    metadata = catalog_pb2.CatalogMetadata(
        dataset_id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.DATASET,
            project=dataset.project,
            domain=dataset.domain,
            name=dataset.name,
            version=dataset.version,
        )
    )
    if tag is not None:
        metadata.artifact_tag.CopyFrom(catalog_pb2.CatalogArtifactTag(artifact_id=tag.artifact_id, name=tag.name))
    if source is not None:
        metadata.source_task_execution.CopyFrom(source)
    return metadata
