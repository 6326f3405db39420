"""Runtime shared by every Aloft service: errors, gRPC server with health/reflection, HTTP, logging, metrics, tracing."""
