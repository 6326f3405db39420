"""Task types ``dask`` and ``ray`` on real clusters started for the attempt: see plugin.py and ../README.md."""

from aloft_propeller.plugins.clusters.plugin import ClusterPlugin, dask_plugin, ray_plugin

__all__ = ["ClusterPlugin", "dask_plugin", "ray_plugin"]
