"""SQLAlchemy models. Every module in this package is imported by ``all_metadata()`` (used by Alembic)."""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import MetaData

from aloft_admin.repositories.models.base import Base


def all_metadata() -> MetaData:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return Base.metadata
