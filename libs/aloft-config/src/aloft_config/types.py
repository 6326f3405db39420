"""Base class and field types for config sections, using Flyte's key spelling via aliases."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


def parse_duration(value: Any) -> timedelta:
    """Parse a Go-style duration ("10s", "1m30s", "250ms") or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '10s', got a boolean")
    if isinstance(value, (int, float)):
        return timedelta(seconds=float(value))
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as '10s', got {type(value).__name__}")
    text = value.strip()
    if text in ("0", ""):
        return timedelta(0)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"invalid duration {value!r}: use forms like '500ms', '10s', '1m30s', '2h'")
    return timedelta(seconds=total)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Section(BaseModel):
    """A strict config section: unknown keys are errors, Flyte's key names are accepted as aliases.

    Defaults are validated too, so a ``Duration`` default written as ``"10s"`` is a timedelta like a configured one.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, validate_default=True)
