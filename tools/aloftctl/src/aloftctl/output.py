"""Printing resources as flytectl does: a table fitted to the terminal, or the whole resource as YAML / JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from google.protobuf import json_format
from google.protobuf.message import Message
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "yaml", "json", "dot")


def console() -> Console:
    """Fitted to the terminal; piped output (grep, files) keeps every cell on one line instead."""
    terminal = Console(soft_wrap=False, highlight=False)
    if terminal.is_terminal:
        return terminal
    return Console(soft_wrap=False, highlight=False, width=100_000)


def to_dict(message: Message) -> dict[str, Any]:
    """The resource in protobuf's JSON mapping (camelCase keys, enum names), as flytectl's -o json/yaml prints."""
    return json_format.MessageToDict(message)


def dump(documents: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(documents, indent=2, sort_keys=False)
    return yaml.safe_dump(documents, sort_keys=False, default_flow_style=False, allow_unicode=True).rstrip("\n")


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    max_width: int | None = None


def render(items: Sequence[Message], columns: Sequence[Column], fmt: str, single: bool = False) -> None:
    """``single``: a lookup of one named resource prints an object (not a list) for yaml/json, as flytectl."""
    if fmt in ("yaml", "json"):
        documents = [to_dict(item) for item in items]
        print(dump(documents[0] if single and len(documents) == 1 else documents, fmt))
        return
    if fmt == "dot":
        raise ValueError("-o dot is only available for a single workflow (get workflow NAME --version V -o dot)")
    table = Table(show_lines=False, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column.header, overflow="fold", max_width=column.max_width)
    for item in items:
        table.add_row(*(_cell(column.value(item)) for column in columns))
    console().print(table)
    if not items:
        print("(no resources found)")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def timestamp(ts: Any) -> str:
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return ""
    return datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(value: Any) -> str:
    if value is None or (value.seconds == 0 and value.nanos == 0):
        return ""
    seconds = value.seconds + value.nanos / 1e9
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"


def truncate(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def variable_names(variable_map: Any) -> str:
    return ", ".join(sorted(variable_map.variables.keys())) if variable_map is not None else ""


def parameter_names(parameter_map: Any) -> str:
    return ", ".join(sorted(parameter_map.parameters.keys())) if parameter_map is not None else ""
