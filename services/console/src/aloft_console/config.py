"""The ``console`` section: where the console listens and which admin it is a client of."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aloft_config import Section
from aloft_service.logging import LoggerConfig


class ConsoleSection(Section):
    host: str = "127.0.0.1"
    httpPort: int = Field(default=8080, ge=0, le=65535)
    # admin's public HTTP API (REST gateway /api/v1); the console never reads admin's database.
    adminEndpoint: str = "http://127.0.0.1:8088"
    basePath: str = "/console"


class ConsoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    console: ConsoleSection = ConsoleSection()
    logger: LoggerConfig = LoggerConfig()
