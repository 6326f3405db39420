"""The local-process plugin: runs python-task / container / raw-container tasks as subprocesses of propeller."""

from aloft_propeller.plugins.local_process.plugin import PLUGIN_ID, TASK_TYPES, LocalProcessPlugin

__all__ = ["PLUGIN_ID", "TASK_TYPES", "LocalProcessPlugin"]
