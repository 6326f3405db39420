"""Aloft scheduler: Flyte's native scheduler as its own process, a client of admin's public gRPC API only."""
