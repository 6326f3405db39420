"""aloftctl: a flytectl-compatible command-line client for Aloft's admin (flyteidl AdminService over gRPC)."""
