"""Aloft console service."""
