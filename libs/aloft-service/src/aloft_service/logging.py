"""Structured logging: text by default, JSON with ``logger.formatter.type: json``."""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

from aloft_config import Section


class FormatterConfig(Section):
    type: Literal["text", "json"] = "text"


class LoggerConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    formatter: FormatterConfig = FormatterConfig()


def configure_logging(config: LoggerConfig, service: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if config.formatter.type == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "asctime": "ts"},
                static_fields={"service": service},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [{service}] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.level.upper())
    for noisy in ("uvicorn.access", "sqlalchemy.engine", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
