"""Structured logging (text and JSON) and the tracing switch."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from aloft_service.logging import FormatterConfig, LoggerConfig, configure_logging
from aloft_service.tracing import OtelConfig

SCRIPT = """
import logging, sys
from aloft_service.logging import FormatterConfig, LoggerConfig, configure_logging
configure_logging(LoggerConfig(level="info", formatter=FormatterConfig(type=sys.argv[1])), "admin")
logging.getLogger("aloft_admin.managers").info("execution %s created", "abc")
logging.getLogger("aloft_admin.managers").debug("hidden at info level")
"""


def emit(kind: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", SCRIPT, kind], capture_output=True, text=True, check=True)
    return result.stderr.strip().splitlines()


def test_json_logs_are_one_object_per_line_with_the_service() -> None:
    (line,) = emit("json")
    record = json.loads(line)
    assert record["message"] == "execution abc created"
    assert record["level"] == "INFO"
    assert record["service"] == "admin"
    assert record["name"] == "aloft_admin.managers"
    assert "ts" in record


def test_text_logs_name_the_service() -> None:
    (line,) = emit("text")
    assert "INFO [admin] aloft_admin.managers: execution abc created" in line


def test_configure_logging_sets_the_level_and_quiets_noisy_libraries() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging(LoggerConfig(level="debug", formatter=FormatterConfig(type="text")), "t")
        assert root.level == logging.DEBUG
        assert logging.getLogger("sqlalchemy.engine").level == logging.WARNING
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_otlp_exporter_only_when_configured() -> None:
    """Provider construction only (installing it globally is a once-per-process act, done by the runtime test)."""
    script = (
        "from aloft_service.tracing import OtelConfig, configure_tracing\n"
        "import sys\n"
        "p = configure_tracing(OtelConfig.model_validate({'type': sys.argv[1]}), 'x')\n"
        "print(len(p._active_span_processor._span_processors))\n"
    )
    counts = [
        subprocess.run([sys.executable, "-c", script, kind], capture_output=True, text=True, check=True).stdout.strip()
        for kind in ("noop", "otlpgrpc")
    ]
    assert counts == ["0", "1"]
    assert OtelConfig().type == "noop"
