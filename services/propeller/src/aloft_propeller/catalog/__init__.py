"""Task output caching through datacatalog: cache keys, clients, and the per-task cache steps."""
