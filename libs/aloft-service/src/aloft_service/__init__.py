"""Runtime shared by every Aloft service.

Errors, the gRPC server with health/reflection, HTTP with /metrics, logging and tracing.
"""
