"""The scheduler's configuration section (validated at start-up)."""

from __future__ import annotations

from datetime import timedelta

from aloft_auth.config import AuthConfig
from pydantic import BaseModel, ConfigDict, Field

from aloft_config import Duration
from aloft_service.logging import LoggerConfig
from aloft_service.runtime import ListenConfig, StackConfig
from aloft_service.tracing import OtelConfig


class SchedulerSection(ListenConfig):
    grpcPort: int = 8093  # gRPC health (and reflection) only: the scheduler serves no API of its own
    httpPort: int = 10255  # /metrics, /healthcheck
    # Admin's public gRPC endpoint; the scheduler reads launch plans and creates executions there, nothing else.
    adminEndpoint: str = "127.0.0.1:8089"
    # How often ACTIVE launch plans are re-read: a schedule activated, deactivated or replaced takes effect within it.
    resyncInterval: Duration = Field(default=timedelta(seconds=10))  # type: ignore[assignment]
    # The longest the scheduler sleeps between looking for due ticks (it also wakes for the next tick).
    pollInterval: Duration = Field(default=timedelta(seconds=1))  # type: ignore[assignment]
    # After downtime (or on a fresh start) at most this many missed ticks per schedule are fired, newest first kept;
    # 0 fires only ticks that fall due while running. Ticks before the launch plan's activation never fire.
    catchUpLimit: int = Field(default=10, ge=0)
    # A tick whose CreateExecution fails for a reason other than ALREADY_EXISTS is retried this many times (with
    # exponential backoff from retryDelay) before it is given up and logged.
    maxRetries: int = Field(default=5, ge=0)
    retryDelay: Duration = Field(default=timedelta(seconds=1))  # type: ignore[assignment]
    # While admin cannot list the ACTIVE launch plans (down, restarting), listing is retried backing off from
    # retryDelay, doubling up to this (instead of every pollInterval).
    maxListingRetryDelay: Duration = Field(default=timedelta(seconds=30))  # type: ignore[assignment]
    # Added to the system clock: the scheduler acts as if it were this much later. For tests only (an end-to-end
    # stack sees a one-minute fixed rate tick seconds after activation, through the real process); keep 0 otherwise.
    clockOffset: Duration = Field(default=timedelta(0))  # type: ignore[assignment]


class SchedulerConfig(BaseModel):
    """The sections the scheduler reads from the shared Aloft config file (each strictly)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheduler: SchedulerSection = SchedulerSection()
    logger: LoggerConfig = LoggerConfig()
    otel: OtelConfig = OtelConfig()
    stack: StackConfig = StackConfig()
    auth: AuthConfig = AuthConfig()  # with auth.enabled, calls to admin carry auth.internal tokens
