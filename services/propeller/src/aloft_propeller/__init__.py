"""Aloft propeller service."""
