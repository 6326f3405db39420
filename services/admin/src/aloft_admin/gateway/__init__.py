"""admin's HTTP surface (``build_http_app`` in app.py):

- REST gateway (grpc-gateway mapping) for every ``google.api.http``-annotated RPC of AdminService,
  DataProxyService, SignalService, AuthMetadataService and IdentityService, routed from the descriptors
  (descriptors.py), requests built by binding.py, answered by rest.py (JSON as flyteadmin's marshaler, or binary
  protobuf for ``application/octet-stream``; errors as ``{"code", "message", "details"}``).
- ``/api/v1/openapi`` (+ ``.json``): OpenAPI 3 generated from the same bindings (openapi.py); dotted path
  variables are named with underscores there (``{id.project}`` → ``{id_project}``) so standard tooling accepts
  them (checked by schemathesis in tests/test_openapi_schemathesis.py).
- ``PUT/GET /api/v1/blobs/{key}``: the local blob store's HMAC-signed URLs (blobs.py).
- CORS from ``admin.allowCors`` / ``admin.allowedOrigins`` / ``admin.allowedHeaders``.
"""
