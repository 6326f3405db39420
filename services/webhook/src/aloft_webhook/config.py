"""The ``webhook`` section (Flyte's pod-webhook key names) and the sections the webhook reads."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aloft_config import Section
from aloft_service.logging import LoggerConfig


class WebhookSection(Section):
    host: str = "127.0.0.1"
    listenPort: int = Field(default=9443, ge=0, le=65535)  # Flyte's webhook port; /metrics and /healthcheck too
    serviceName: str = "aloft-pod-webhook"
    certDir: str = "/etc/webhook/certs"


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook: WebhookSection = WebhookSection()
    logger: LoggerConfig = LoggerConfig()
