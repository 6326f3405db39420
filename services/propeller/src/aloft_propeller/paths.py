"""Deterministic blob-store paths and ids for executions, nodes and attempts (the data conventions)."""

from __future__ import annotations

import re

from aloft_propeller.store.base import ExecutionKey
from aloft_storage import BlobStore

_UNSAFE = re.compile(r"[^a-z0-9-]+")


def execution_dir(blobs: BlobStore, metadata_prefix: str, key: ExecutionKey) -> str:
    return blobs.uri(*metadata_prefix.strip("/").split("/"), key.project, key.domain, key.name)


def node_dir(execution_uri: str, node_path: str) -> str:
    return f"{execution_uri.rstrip('/')}/{node_path}"


def attempt_dir(execution_uri: str, node_path: str, attempt: int) -> str:
    return f"{node_dir(execution_uri, node_path)}/{attempt}"


def inputs_uri(node_uri: str) -> str:
    return f"{node_uri}/inputs.pb"


def outputs_uri(prefix: str) -> str:
    return f"{prefix}/outputs.pb"


def checkpoint_prefix(attempt_uri: str) -> str:
    return f"{attempt_uri}/_flytecheckpoints"


def unique_attempt_id(execution_name: str, node_path: str, attempt: int) -> str:
    """``{execution name}-{node id path}-{retry attempt}``, sanitized to [a-z0-9-]."""
    raw = f"{execution_name}-{node_path}-{attempt}".lower()
    return _UNSAFE.sub("-", raw).strip("-")


def child_path(parent_path: str, parent_attempt: int, child_id: str) -> str:
    return f"{parent_path}-{parent_attempt}-{child_id}"
