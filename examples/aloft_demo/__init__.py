"""The Aloft demo project: a small flytekit pipeline `make demo` registers and runs against the local stack."""
