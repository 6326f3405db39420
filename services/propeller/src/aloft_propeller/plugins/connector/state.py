"""What the connector plugin remembers about one attempt, persisted with the node (``plugin_state``) and, for a
created task, also written beside the attempt's outputs (``connector-task.json``) the moment CreateTask answers.

The node's state is persisted only at the end of a round, so a propeller killed between CreateTask and that write
would otherwise create the task again; the marker closes that window (Flyte keeps the resource meta only in the
plugin state). A task is created at most once per attempt unless propeller dies inside the CreateTask call itself.
"""

from __future__ import annotations

import base64
import enum
import json
from dataclasses import asdict, dataclass, replace

from aloft_propeller.plugins.io import join_uri
from aloft_storage import BlobNotFound, BlobStore

MARKER_FILE = "connector-task.json"
_VERSION = 1


class Stage(enum.StrEnum):
    NOT_STARTED = "NotStarted"
    CREATED = "ResourcesCreated"  # an async task exists on its connector: poll it, delete it on abort


@dataclass(frozen=True)
class ConnectorState:
    stage: Stage = Stage.NOT_STARTED
    task_type: str = ""
    task_type_version: int = 0
    resource_meta: bytes = b""
    output_prefix: str = ""
    # Event versions within one phase: bumped whenever the connector's report (message, logs, info) changes.
    phase_version: int = 0
    report: str = ""

    def encode(self) -> bytes:
        plain = asdict(self)
        plain["v"] = _VERSION
        plain["resource_meta"] = base64.b64encode(self.resource_meta).decode()
        return json.dumps(plain, sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> ConnectorState:
        if not data:
            return cls()
        plain = json.loads(data)
        plain.pop("v", None)
        plain["stage"] = Stage(plain["stage"])
        plain["resource_meta"] = base64.b64decode(plain["resource_meta"])
        return cls(**plain)

    def reported(self, report: str) -> ConnectorState:
        """This state after a report; the phase version moves when the report differs from the last one."""
        if report == self.report:
            return self
        return replace(self, report=report, phase_version=self.phase_version + 1)


def marker_uri(output_prefix: str) -> str:
    return join_uri(output_prefix, MARKER_FILE)


async def write_marker(blobs: BlobStore, output_prefix: str, state: ConnectorState) -> None:
    await blobs.write(marker_uri(output_prefix), state.encode())


async def read_marker(blobs: BlobStore, output_prefix: str) -> ConnectorState | None:
    try:
        return ConnectorState.decode(await blobs.read(marker_uri(output_prefix)))
    except BlobNotFound:
        return None
