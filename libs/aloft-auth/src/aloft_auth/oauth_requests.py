"""An HTTP request as Authlib's server grants read it (query + form fields, case-insensitive headers), for ASGI
apps: Authlib ships such adapters only for Flask and Django; and the authorization endpoint's response for one.
Used by admin's authorization server and the test OIDC provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request, UnsupportedResponseTypeError


class FormPayload(OAuth2Payload):
    def __init__(self, data: dict[str, str]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:  # type: ignore[override]
        return {k: [v] for k, v in self._data.items()}


class FormRequest(OAuth2Request):
    def __init__(
        self, method: str, uri: str, headers: Mapping[str, str], args: dict[str, str], form: dict[str, str]
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._args = args
        self._form = form
        self.payload = FormPayload({**args, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


def authorization_response(server: AuthorizationServer, request: OAuth2Request, user: Any) -> Any:
    """``server.create_authorization_response`` for ``user``, handed the grant it would look up itself: Authlib
    deprecates calls without ``grant=`` (to become mandatory; until then a warning at every login). As Authlib's
    own lookup does, a response type no grant serves answers ``unsupported_response_type`` with the state."""
    try:
        grant = server.get_authorization_grant(request)
    except UnsupportedResponseTypeError as error:
        error.state = request.payload.state
        return server.handle_error_response(request, error)
    return server.create_authorization_response(request, grant_user=user, grant=grant)
