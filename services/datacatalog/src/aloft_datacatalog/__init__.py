"""Aloft datacatalog service."""
