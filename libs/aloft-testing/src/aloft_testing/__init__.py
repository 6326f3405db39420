"""Test harness shared by every service's tests."""
