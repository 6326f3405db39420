"""Flyte workflow compiler shared by admin (registration) and propeller (dynamic workflows)."""
