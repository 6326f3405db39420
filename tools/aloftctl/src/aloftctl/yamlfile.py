"""Reading the YAML files users hand aloftctl (config, attrFile, execFile) with errors naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def load_mapping(path: str | Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """The file's top-level mapping (empty file → ``{}``); unreadable, invalid or non-mapping files raise ``error``."""
    try:
        document = yaml.safe_load(Path(path).expanduser().read_text())
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not valid YAML: {exc}") from exc
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise error(f"{what} {path}: expected a mapping at the top level")
    return document
