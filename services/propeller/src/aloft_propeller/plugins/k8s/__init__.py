"""Tasks as Kubernetes pods (Flyte's k8s pod plugin), through the official `kubernetes` client."""

from aloft_propeller.plugins.k8s.plugin import PLUGIN_ID, K8sPodPlugin

__all__ = ["PLUGIN_ID", "K8sPodPlugin"]
