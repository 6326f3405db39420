"""Structured logging: text by default, JSON with ``logger.formatter.type: json``."""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

from aloft_config import Section, redact_text


class FormatterConfig(Section):
    type: Literal["text", "json"] = "text"


class LoggerConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    formatter: FormatterConfig = FormatterConfig()


class RedactingFormatter(logging.Formatter):
    """Masks secrets (DSN passwords, ``password: ...`` pairs) in the whole formatted line, tracebacks included:
    libraries log connection strings and exceptions we do not control."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(self.inner.format(record))


def configure_logging(config: LoggerConfig, service: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    inner: logging.Formatter
    if config.formatter.type == "json":
        inner = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "asctime": "ts"},
            static_fields={"service": service},
        )
    else:
        inner = logging.Formatter(f"%(asctime)s %(levelname)s [{service}] %(name)s: %(message)s")
    handler.setFormatter(RedactingFormatter(inner))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.level.upper())
    for noisy in ("uvicorn.access", "sqlalchemy.engine", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
