"""Tasks served by Flyte connectors (agents) over gRPC: see plugin.py and ../README.md."""

from aloft_propeller.plugins.connector.plugin import ConnectorPlugin

__all__ = ["ConnectorPlugin"]
