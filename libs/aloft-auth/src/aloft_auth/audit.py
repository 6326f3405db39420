"""The audit log (logger ``aloft.audit``): authentication successes and failures, denials, token issuance.

Lines name the subject/client, the RPC or endpoint and the reason, never a token, a secret or a code.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from aloft_auth.tokens import Identity

audit_log = logging.getLogger("aloft.audit")

_SEEN_LIMIT = 4096


class AuditLog:
    def __init__(self, logger: logging.Logger = audit_log) -> None:
        self.log = logger
        # A token's first use is logged; later uses of the same token are not (event RPCs would flood the log).
        self._seen: OrderedDict[str, None] = OrderedDict()

    def authenticated(self, identity: Identity, method: str) -> None:
        key = identity.token_id or f"{identity.subject}/{identity.claims.get('iat', '')}"
        if key in self._seen:
            return
        self._seen[key] = None
        if len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        self.log.info("auth.success subject=%s client=%s method=%s", identity.subject, identity.client_id, method)

    def unauthenticated(self, method: str, reason: str, peer: str = "") -> None:
        self.log.warning("auth.failure method=%s peer=%s reason=%s", method, peer, reason)

    def denied(self, identity: Identity, method: str, reason: str) -> None:
        self.log.warning("authz.denied subject=%s method=%s reason=%s", identity.subject, method, reason)

    def token_issued(self, client_id: str, grant_type: str, subject: str) -> None:
        self.log.info("token.issued client=%s grant=%s subject=%s", client_id, grant_type, subject)

    def token_refused(self, client_id: str, grant_type: str, error: str, peer: str = "") -> None:
        self.log.warning("token.refused client=%s grant=%s error=%s peer=%s", client_id, grant_type, error, peer)

    def rate_limited(self, endpoint: str, peer: str) -> None:
        self.log.warning("token.rate_limited endpoint=%s peer=%s", endpoint, peer)

    def configuration(self, what: str) -> None:
        self.log.info("auth.configuration %s", what)

    def configuration_change(self, action: str, actor: str, client: str, target: str) -> None:
        """A change of platform configuration (projects, matchable attributes, launch plan state, signing keys):
        who did it and to what; never the values set (they may name secrets)."""
        self.log.info("config.change action=%s actor=%s client=%s target=%s", action, actor, client, target)
