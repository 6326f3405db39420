"""The local-process plugin's ResourceManager pool (``plugins/tokens.py``): one token per running attempt under
the resource ``local-process``, ``plugins.local-process.resource-quota`` tokens (0: no pool)."""

from __future__ import annotations

from aloft_propeller.config import LocalProcessConfig
from aloft_propeller.plugins.tokens import TokenPool

RESOURCE = "local-process"


class ProcessTokens(TokenPool):
    def __init__(self, settings: LocalProcessConfig) -> None:
        super().__init__(RESOURCE, settings.resource_quota, settings.resource_constraints)
