"""What every servicer mixin sees: ``self.managers`` (built once, in server.py).

Servicer methods are a few lines: call a manager, return its answer. They raise AloftError subclasses and never
call ``context.abort`` themselves: the gRPC interceptor and the REST gateway map errors in one place, and the
gateway calls these same methods in-process (with ``context=None``).
"""

from __future__ import annotations

from aloft_admin.managers.registry import Managers


class RpcMixin:
    managers: Managers

    def __init__(self, managers: Managers) -> None:
        self.managers = managers
