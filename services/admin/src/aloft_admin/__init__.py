"""Aloft admin service."""
