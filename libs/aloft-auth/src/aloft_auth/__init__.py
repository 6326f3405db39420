"""Authentication and authorization shared by Aloft services (see config.py for the ``auth`` section)."""
