"""Persistence: SQLAlchemy models (models/), Protocols (base.py) and SQL implementations (sql/)."""
