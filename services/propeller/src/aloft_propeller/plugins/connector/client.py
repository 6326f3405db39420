"""gRPC clients of connector deployments (Flyte's connector ClientSet): one channel per endpoint, per-call deadlines
from the deployment's ``timeouts`` / ``defaultTimeout``, TLS unless ``insecure``, an optional bearer token.

Discovery runs on a background thread (blocking stubs on their own channels); task calls run on propeller's event
loop (grpc.aio channels, opened lazily there and closed by ``close``).
"""

from __future__ import annotations

import json
from pathlib import Path

import grpc
from flyteidl.service import agent_pb2_grpc

from aloft_propeller.config import ConnectorDeployment


def _options(deployment: ConnectorDeployment) -> list[tuple[str, object]]:
    options: list[tuple[str, object]] = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    if deployment.defaultServiceConfig:
        json.loads(deployment.defaultServiceConfig)  # a malformed service config is a configuration error
        options.append(("grpc.service_config", deployment.defaultServiceConfig))
    return options


def _credentials(deployment: ConnectorDeployment) -> grpc.ChannelCredentials:
    roots = Path(deployment.caCertFile).read_bytes() if deployment.caCertFile else None
    return grpc.ssl_channel_credentials(root_certificates=roots)


def call_metadata(deployment: ConnectorDeployment) -> list[tuple[str, str]] | None:
    if not deployment.tokenFile:
        return None
    token = Path(deployment.tokenFile).read_text().strip()
    return [("authorization", f"Bearer {token}")]


def blocking_channel(deployment: ConnectorDeployment) -> grpc.Channel:
    if deployment.insecure:
        return grpc.insecure_channel(deployment.endpoint, options=_options(deployment))
    return grpc.secure_channel(deployment.endpoint, _credentials(deployment), options=_options(deployment))


class ConnectorClients:
    """Async stubs by endpoint, created on first use inside the running event loop."""

    def __init__(self) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _channel(self, deployment: ConnectorDeployment) -> grpc.aio.Channel:
        channel = self._channels.get(deployment.endpoint)
        if channel is None:
            if deployment.insecure:
                channel = grpc.aio.insecure_channel(deployment.endpoint, options=_options(deployment))
            else:
                channel = grpc.aio.secure_channel(
                    deployment.endpoint, _credentials(deployment), options=_options(deployment)
                )
            self._channels[deployment.endpoint] = channel
        return channel

    def async_stub(self, deployment: ConnectorDeployment) -> agent_pb2_grpc.AsyncAgentServiceStub:
        return agent_pb2_grpc.AsyncAgentServiceStub(self._channel(deployment))

    def sync_stub(self, deployment: ConnectorDeployment) -> agent_pb2_grpc.SyncAgentServiceStub:
        return agent_pb2_grpc.SyncAgentServiceStub(self._channel(deployment))

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()
