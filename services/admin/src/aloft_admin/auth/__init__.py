"""Admin's side of authentication: its own OAuth2 authorization server (appAuth.selfAuthServer), the guard that
checks every gRPC and REST call, and the answers of AuthMetadataService/IdentityService."""
