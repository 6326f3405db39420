"""Log lines (messages and tracebacks, text and JSON) never carry a password."""

from __future__ import annotations

import io
import logging

import pytest

from aloft_service.logging import LoggerConfig, configure_logging


@pytest.mark.parametrize("formatter", ["text", "json"])
def test_log_lines_mask_dsn_passwords_and_secret_pairs(formatter: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging(LoggerConfig.model_validate({"formatter": {"type": formatter}}), "test")
        log = logging.getLogger("aloft.test")
        log.warning("connecting to %s", "postgresql+psycopg://aloft:hunter2@db/aloft")
        try:
            raise RuntimeError("bad section {'password': 'hunter2'}")
        except RuntimeError:
            log.exception("failed")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    output = stream.getvalue()
    assert "hunter2" not in output
    assert "postgresql+psycopg://aloft:***@db/aloft" in output and "RuntimeError" in output
