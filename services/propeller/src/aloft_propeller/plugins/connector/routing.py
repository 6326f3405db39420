"""Which connector deployment serves a task type (Flyte's getConnectorRegistry).

Built from each deployment's metadata service (``AgentMetadataService.ListAgents``: supported task categories with
their versions, the deprecated supported task types, and whether the connector is sync), then
``connectorForTaskTypes`` (always wins, async), then ``supportedTaskTypes`` not reported by anyone (the default
connector, async). A deployment that cannot be listed is skipped and asked again next ``pollInterval``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc

from aloft_propeller.config import ConnectorDeployment, ConnectorServiceConfig
from aloft_propeller.plugins.connector.client import blocking_channel, call_metadata

log = logging.getLogger(__name__)

DEFAULT_TASK_TYPE_VERSION = 0


@dataclass(frozen=True)
class Route:
    deployment: ConnectorDeployment
    is_sync: bool


# task type name → task type version → where it runs
Routes = dict[str, dict[int, Route]]


def deployments(config: ConnectorServiceConfig) -> list[ConnectorDeployment]:
    listed: list[ConnectorDeployment] = [config.defaultConnector] if config.defaultConnector.endpoint else []
    return listed + list(config.connectors.values())


def list_connectors(deployment: ConnectorDeployment) -> list[agent_pb2.Agent] | None:
    """The connectors a deployment reports, or None when it cannot say (down, or no metadata service)."""
    channel = blocking_channel(deployment)
    try:
        stub = agent_pb2_grpc.AgentMetadataServiceStub(channel)
        reply = stub.ListAgents(
            agent_pb2.ListAgentsRequest(),
            timeout=deployment.timeout("ListConnectors") or deployment.timeout("ListAgents"),
            metadata=call_metadata(deployment),
        )
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        if code == grpc.StatusCode.UNIMPLEMENTED:
            log.warning("connector %s has no metadata service (ListAgents unimplemented)", deployment.endpoint)
        else:
            log.warning("cannot list the connectors of %s: %s", deployment.endpoint, exc)
        return None
    except OSError as exc:  # an unreadable token or CA file
        log.warning("cannot list the connectors of %s: %s", deployment.endpoint, exc)
        return None
    finally:
        channel.close()
    return list(reply.agents)


def discover_routes(config: ConnectorServiceConfig) -> Routes:
    routes: Routes = {}
    for deployment in deployments(config):
        connectors = list_connectors(deployment)
        for connector in connectors or []:
            route = Route(deployment, connector.is_sync)
            for task_type in connector.supported_task_types:
                routes[task_type] = {DEFAULT_TASK_TYPE_VERSION: route}
            for category in connector.supported_task_categories:
                routes[category.name] = {category.version: route}
        if connectors is not None:
            served = sorted({t for c in connectors for t in [*c.supported_task_types, *_names(c)]})
            log.info("connector deployment %s serves task types: %s", deployment.endpoint, ", ".join(served))
    for task_type, name in config.connectorForTaskTypes.items():
        routes[task_type] = {DEFAULT_TASK_TYPE_VERSION: Route(config.connectors[name], False)}
    for task_type in config.supportedTaskTypes:
        routes.setdefault(task_type, {DEFAULT_TASK_TYPE_VERSION: Route(config.defaultConnector, False)})
    return routes


def _names(connector: agent_pb2.Agent) -> list[str]:
    return [category.name for category in connector.supported_task_categories]


class ConnectorRoutes:
    """The current routes, refreshed every ``pollInterval`` on a daemon thread (a connector deployed later, or
    one that was down at start-up, is picked up without restarting propeller)."""

    def __init__(self, config: ConnectorServiceConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._routes: Routes = discover_routes(config)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None and self._config.pollInterval.total_seconds() > 0:
            self._thread = threading.Thread(target=self._refresh_loop, name="connector-discovery", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def refresh(self) -> None:
        routes = discover_routes(self._config)
        with self._lock:
            self._routes = routes

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self._config.pollInterval.total_seconds()):
            try:
                self.refresh()
            except Exception:  # discovery must keep running
                log.exception("connector discovery failed")

    def task_types(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._routes))

    def serves(self, task_type: str) -> bool:
        with self._lock:
            return task_type in self._routes

    def route(self, task_type: str, version: int) -> Route:
        """Flyte's getFinalConnector: the exact (type, version), else the default connector (async)."""
        with self._lock:
            route = self._routes.get(task_type, {}).get(version)
        return route or Route(self._config.defaultConnector, False)
