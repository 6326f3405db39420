"""schemathesis (standard OpenAPI tooling) over the live REST API: every operation of ``/api/v1/openapi`` loads
without a schema error, and no generated request makes admin answer 5xx.

The real admin service runs on free ports against a fresh SQLite database; schemathesis loads the document from
the running server and sends a few generated requests per operation, schema-valid and schema-violating ones
(bad input must get a 4xx, never a 5xx), with no stateful phase and no shrinking so the run stays short.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Err

# Request handling does not depend on the database backend: SQLite only keeps the suite fast.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

EXAMPLES_PER_OPERATION = 6  # per operation, valid and invalid data mixed
REQUEST_TIMEOUT_S = 30


@dataclass
class FuzzReport:
    operations: list[str] = field(default_factory=list)
    schema_errors: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    requests_sent: int = 0


def _fuzz_operation(operation: Any, base_url: str, session: requests.Session, report: FuzzReport) -> None:
    @given(case=operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        phases=[Phase.explicit, Phase.generate],  # failures are collected, never raised: nothing to shrink
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def send(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, timeout=REQUEST_TIMEOUT_S)
        report.requests_sent += 1
        if response.status_code >= 500:
            report.server_errors.append(
                f"{operation.label} -> {response.status_code} {response.text[:300]}\n    {case.as_curl_command()}"
            )

    send()


def _fuzz(base_url: str) -> FuzzReport:
    """Blocking: runs in a worker thread while the test's event loop serves admin."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi")
    report = FuzzReport()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                error = result.err()
                report.schema_errors.append(f"{error.label}: {error.message}")
                continue
            operation = result.ok()
            report.operations.append(operation.label)
            try:
                _fuzz_operation(operation, base_url, session, report)
            except schemathesis.errors.InvalidSchema as exc:
                report.schema_errors.append(f"{operation.label}: {exc}")
    return report


async def test_schemathesis_finds_no_schema_errors_and_no_server_errors(admin_server: Any) -> None:
    report = await asyncio.to_thread(_fuzz, admin_server.http_base)
    assert report.schema_errors == []
    assert report.server_errors == []
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        document = (await client.get("/api/v1/openapi")).json()
    expected = {f"{verb.upper()} {path}" for path, item in document["paths"].items() for verb in item}
    assert set(report.operations) == expected
    assert report.requests_sent >= len(expected)
