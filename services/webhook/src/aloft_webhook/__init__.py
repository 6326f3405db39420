"""Aloft webhook service."""
