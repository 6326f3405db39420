"""The ``auth`` config section, shared by every service (Flyte's flyteadmin ``auth`` section plus what Aloft adds).

Off by default. ``auth.enabled: true`` turns it on for admin, datacatalog, propeller and the scheduler alike:

```yaml
auth:
  enabled: true
  authorizedUris: [http://127.0.0.1:8088]      # admin's public URL: token issuer and audience
  appAuth:
    authServerType: Self                       # Self (admin issues tokens) | External (an IdP does)
    selfAuthServer:
      staticClients:
        flytepropeller: {id: flytepropeller, client_secret: "<bcrypt hash>", grant_types: [client_credentials],
                         response_types: [token], scopes: [all]}
  internal: {clientId: flytepropeller, clientSecretLocation: /etc/secrets/client_secret}   # service-to-service
  rbac: {roles: {...}, subjects: {...}}        # optional: roles → permissions per project/domain
```
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from aloft_config import Duration, Section

BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
DEFAULT_HEADER = "flyte-authorization"


class StaticClient(Section):
    """One OAuth2 client of admin's own authorization server (the shape of fosite's DefaultClient in Flyte)."""

    id: str
    client_secret: str = ""  # a bcrypt hash; public clients have none
    redirect_uris: list[str] = Field(default_factory=list)
    grant_types: list[str] = Field(default_factory=lambda: ["client_credentials"])
    response_types: list[str] = Field(default_factory=lambda: ["token"])
    scopes: list[str] = Field(default_factory=lambda: ["all", "offline", "access_token"])
    audience: list[str] = Field(default_factory=list)
    public: bool = False

    @model_validator(mode="after")
    def _secret_is_a_bcrypt_hash(self) -> StaticClient:
        known = {"client_credentials", "authorization_code", "refresh_token"}
        unknown = sorted(set(self.grant_types) - known)
        if unknown:
            raise ValueError(f"client {self.id!r}: unsupported grant_types {unknown} (supported: {sorted(known)})")
        if self.public:
            if "client_credentials" in self.grant_types:
                raise ValueError(f"client {self.id!r}: a public client cannot use client_credentials")
            return self
        if not self.client_secret.startswith(BCRYPT_PREFIXES):
            raise ValueError(
                f"client {self.id!r}: client_secret must be the bcrypt hash of the secret (starting with $2a$/$2b$), "
                "never the secret itself; make one with `aloft-admin hash-secret`"
            )
        return self


def _default_clients() -> dict[str, StaticClient]:
    cli = {
        "redirect_uris": ["http://localhost:53593/callback", "http://localhost:12345/callback"],
        "grant_types": ["refresh_token", "authorization_code"],
        "response_types": ["code", "token"],
        "scopes": ["all", "offline", "access_token"],
        "public": True,
    }
    return {name: StaticClient(id=name, **cli) for name in ("flyte-cli", "flytectl")}  # type: ignore[arg-type]


class SelfAuthServer(Section):
    """Admin as the authorization server. Signing keys: PEM RSA private keys; unset, admin keeps a generated one
    under ``<stack.dataDir>/auth/`` (``aloft-admin rotate-signing-key`` rotates it: the old key keeps verifying)."""

    issuer: str = ""  # "" = the first of auth.authorizedUris
    accessTokenLifespan: Duration = Field(default="30m")  # type: ignore[assignment]
    refreshTokenLifespan: Duration = Field(default="60m")  # type: ignore[assignment]
    authorizationCodeLifespan: Duration = Field(default="5m")  # type: ignore[assignment]
    tokenSigningRSAKeyFile: str = ""
    oldTokenSigningRSAKeyFile: str = ""
    staticClients: dict[str, StaticClient] = Field(default_factory=_default_clients)

    @field_validator("accessTokenLifespan", "refreshTokenLifespan", "authorizationCodeLifespan")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be a positive duration")
        return value

    @model_validator(mode="after")
    def _client_keys_match_ids(self) -> SelfAuthServer:
        for key, client in self.staticClients.items():
            if key != client.id:
                raise ValueError(f"staticClients[{key!r}].id is {client.id!r}: the key and the id must be the same")
        return self


class ExternalAuthServer(Section):
    """An external authorization server (Okta, Keycloak, Entra ID ...): admin discovers it from its metadata."""

    baseUrl: str = ""  # "" = auth.userAuth.openId.baseUrl
    allowedAudience: list[str] = Field(default_factory=list)  # [] = auth.authorizedUris
    metadataUrl: str = ".well-known/oauth-authorization-server"  # relative to baseUrl, or absolute
    retryAttempts: int = Field(default=5, ge=0)
    retryDelay: Duration = Field(default="1s")  # type: ignore[assignment]

    def metadata_endpoint(self) -> str:
        if self.metadataUrl.startswith(("http://", "https://")):
            return self.metadataUrl
        return self.baseUrl.rstrip("/") + "/" + self.metadataUrl.lstrip("/")


class FlyteClientConfig(Section):
    """What AuthMetadataService.GetPublicClientConfig tells flytectl/pyflyte to use for PKCE."""

    clientId: str = "flytectl"
    redirectUri: str = "http://localhost:53593/callback"
    scopes: list[str] = Field(default_factory=lambda: ["all", "offline"])
    audience: str = ""


class ThirdPartyConfig(Section):
    flyteClient: FlyteClientConfig = FlyteClientConfig()


class AppAuth(Section):
    authServerType: Literal["Self", "External"] = "Self"
    selfAuthServer: SelfAuthServer = SelfAuthServer()
    externalAuthServer: ExternalAuthServer = ExternalAuthServer()
    thirdPartyConfig: ThirdPartyConfig = ThirdPartyConfig()


class OpenIdOptions(Section):
    """The OpenID Connect provider users log in with (admin is its confidential client)."""

    baseUrl: str = ""  # the issuer; discovery at <baseUrl>/.well-known/openid-configuration
    clientId: str = ""
    clientSecretLocation: str = ""  # a file with admin's client secret at the provider
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile"])

    def client_secret(self) -> str:
        if not self.clientSecretLocation:
            return ""
        return Path(self.clientSecretLocation).read_text().strip()


class CookieSetting(Section):
    sameSitePolicy: Literal["Lax", "Strict", "None"] = "Lax"
    domain: str = ""


class UserAuth(Section):
    """Browser users (the console): /login → the OIDC provider → /callback sets an HttpOnly session cookie."""

    openId: OpenIdOptions = OpenIdOptions()
    redirectUrl: str = "/console"  # where /callback and /logout send the browser when no redirect_url was given
    cookieSetting: CookieSetting = CookieSetting()
    sessionLifespan: Duration = Field(default="12h")  # type: ignore[assignment]
    cookieHashKeyFile: str = ""  # "" = a random key kept under <stack.dataDir>/auth/


class InternalClient(Section):
    """Credentials services use to call each other (propeller → admin/datacatalog, admin → data planes, scheduler
    → admin): OAuth2 client credentials against the authorization server's token endpoint."""

    clientId: str = "flytepropeller"
    clientSecretLocation: str = ""  # a file holding the secret (Flyte's /etc/secrets/client_secret)
    clientSecretEnvVar: str = "ALOFT_AUTH_CLIENT_SECRET"  # else the secret comes from this environment variable
    scopes: list[str] = Field(default_factory=lambda: ["all"])
    tokenUrl: str = ""  # "" = discovered from the authorization server's metadata
    audience: str = ""
    # A token is replaced this long before it expires (and at the latest after 80% of its lifetime).
    refreshBefore: Duration = Field(default="60s")  # type: ignore[assignment]

    def client_secret(self) -> str:
        if self.clientSecretLocation:
            path = Path(self.clientSecretLocation)
            if not path.is_file():
                raise ValueError(f"auth.internal.clientSecretLocation: {str(path)!r} does not exist")
            return path.read_text().strip()
        return os.environ.get(self.clientSecretEnvVar, "")


class Role(Section):
    permissions: list[str] = Field(default_factory=list)  # "<resource>:<action>", "<resource>:*" or "*"
    projects: list[str] = Field(default_factory=lambda: ["*"])
    domains: list[str] = Field(default_factory=lambda: ["*"])


class RbacConfig(Section):
    """Roles → permissions per project and domain (the reference's ``rbac_config``), and who holds them.

    With no roles every authenticated caller may do everything. ``subjects`` maps a token's subject (a client id,
    or a user's ``sub``) to role names; ``groups`` maps a value of the token's ``groups`` claim the same way."""

    roles: dict[str, Role] = Field(default_factory=dict)
    subjects: dict[str, list[str]] = Field(default_factory=dict)
    groups: dict[str, list[str]] = Field(default_factory=dict)
    defaultRoles: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bindings_name_roles(self) -> RbacConfig:
        for kind, bindings in (("subjects", self.subjects), ("groups", self.groups)):
            for who, roles in bindings.items():
                unknown = sorted(set(roles) - set(self.roles))
                if unknown:
                    raise ValueError(f"rbac.{kind}[{who!r}] names unknown role(s) {unknown}")
        unknown = sorted(set(self.defaultRoles) - set(self.roles))
        if unknown:
            raise ValueError(f"rbac.defaultRoles names unknown role(s) {unknown}")
        for name, role in self.roles.items():
            for permission in role.permissions:
                if permission != "*" and permission.count(":") != 1:
                    raise ValueError(f"rbac.roles[{name!r}]: permission {permission!r} is not '<resource>:<action>'")
        return self


class RateLimit(Section):
    """Token-endpoint requests per client address (a token bucket): ``requestsPerMinute`` with bursts of ``burst``."""

    requestsPerMinute: int = Field(default=60, ge=1)
    burst: int = Field(default=20, ge=1)


class MutualTls(Section):
    """TLS with client certificates on the gRPC ports between services (independent of ``auth.enabled``).

    Every service serves gRPC over TLS with ``certFile``/``keyFile`` and calls the others presenting the same pair,
    checking their certificates against ``caFile``. datacatalog and propeller (internal services) refuse a client
    without a certificate signed by ``caFile``; admin does too only with ``requireClientCertAtAdmin`` (its port also
    serves flytekit and the CLIs, which speak TLS with ``caCertFilePath`` but have no client certificate)."""

    enabled: bool = False
    certFile: str = ""
    keyFile: str = ""
    caFile: str = ""
    requireClientCertAtAdmin: bool = False
    # The name checked on the servers' certificates when it differs from the dialled host (e.g. an IP address).
    serverName: str = ""

    @model_validator(mode="after")
    def _files_when_enabled(self) -> MutualTls:
        if not self.enabled:
            return self
        for key in ("certFile", "keyFile", "caFile"):
            value = getattr(self, key)
            if not value:
                raise ValueError(f"auth.mutualTls.enabled needs auth.mutualTls.{key}")
            if not Path(value).is_file():
                raise ValueError(f"auth.mutualTls.{key} {value!r} does not exist")
        return self


class AuthConfig(Section):
    enabled: bool = False
    httpAuthorizationHeader: str = DEFAULT_HEADER
    grpcAuthorizationHeader: str = DEFAULT_HEADER
    authorizedUris: list[str] = Field(default_factory=list)
    appAuth: AppAuth = AppAuth()
    userAuth: UserAuth = UserAuth()
    internal: InternalClient = InternalClient()
    rbac: RbacConfig = RbacConfig()
    tokenRateLimit: RateLimit = RateLimit()
    mutualTls: MutualTls = MutualTls()

    @model_validator(mode="after")
    def _enabled_needs_an_issuer(self) -> AuthConfig:
        if not self.enabled:
            return self
        for uri in self.authorizedUris:
            if not uri.startswith(("http://", "https://")):
                raise ValueError(f"authorizedUris: {uri!r} is not an http(s) URL")
        if self.appAuth.authServerType == "Self":
            if not (self.appAuth.selfAuthServer.issuer or self.authorizedUris):
                raise ValueError(
                    "auth.enabled needs admin's public URL: set auth.authorizedUris (e.g. [http://127.0.0.1:8088]) "
                    "or auth.appAuth.selfAuthServer.issuer"
                )
        elif not self.external_base_url():
            raise ValueError(
                "authServerType External needs auth.appAuth.externalAuthServer.baseUrl (or userAuth.openId.baseUrl)"
            )
        if not self.audiences():
            raise ValueError(
                "auth.enabled needs an audience: auth.authorizedUris or externalAuthServer.allowedAudience"
            )
        return self

    def external_base_url(self) -> str:
        return self.appAuth.externalAuthServer.baseUrl or self.userAuth.openId.baseUrl

    def issuer(self) -> str:
        """The authorization server's issuer (Self: admin's public URL)."""
        if self.appAuth.authServerType == "External":
            return self.external_base_url().rstrip("/")
        return (self.appAuth.selfAuthServer.issuer or self.authorizedUris[0]).rstrip("/")

    def metadata_url(self) -> str:
        """Where the authorization server's RFC 8414 metadata is served."""
        if self.appAuth.authServerType == "External":
            external = self.appAuth.externalAuthServer.model_copy(update={"baseUrl": self.external_base_url()})
            return external.metadata_endpoint()
        return self.issuer() + "/.well-known/oauth-authorization-server"

    def audiences(self) -> list[str]:
        """Audiences a token must carry one of to be accepted by any Aloft service."""
        if self.appAuth.authServerType == "External" and self.appAuth.externalAuthServer.allowedAudience:
            return list(self.appAuth.externalAuthServer.allowedAudience)
        return [uri.rstrip("/") for uri in self.authorizedUris] or [self.issuer()]
