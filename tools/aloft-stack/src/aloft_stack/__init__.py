"""Aloft stack launcher."""
