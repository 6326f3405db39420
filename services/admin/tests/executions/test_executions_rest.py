"""The REST gateway serves the executions RPCs (same servicer methods, called in-process): get, list, events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx


async def test_executions_over_rest(exec_server: Any) -> None:
    await exec_server.seed_execution("viarest")
    base = f"http://127.0.0.1:{exec_server.running.http_port}/api/v1"
    async with httpx.AsyncClient() as client:
        got = await client.get(f"{base}/executions/flytesnacks/development/viarest")
        assert got.status_code == 200, got.text
        assert got.json()["id"]["name"] == "viarest"

        event = {
            "event": {
                "execution_id": {"project": "flytesnacks", "domain": "development", "name": "viarest"},
                "producer_id": "east",
                "phase": "RUNNING",
                "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
        }
        posted = await client.post(f"{base}/events/workflows", json=event)
        assert posted.status_code == 200, posted.text
        listed = await client.get(f"{base}/executions/flytesnacks/development", params={"limit": 5})
        assert listed.status_code == 200, listed.text
        [execution] = listed.json()["executions"]
        assert execution["closure"]["phase"] == "RUNNING"

        missing = await client.get(f"{base}/executions/flytesnacks/development/nobody")
        assert missing.status_code == 404
        assert "nobody" in missing.text
