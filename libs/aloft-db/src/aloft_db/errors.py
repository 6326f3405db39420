"""Database errors mapped once to Aloft errors, by SQLSTATE / driver error class, never by message text alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, OperationalError

from aloft_service.errors import AlreadyExists, FailedPrecondition, Unavailable

_PG_UNIQUE_VIOLATION = "23505"
_PG_FK_VIOLATION = "23503"
_PG_SERIALIZATION = {"40001", "40P01"}


def _sqlstate(exc: Exception) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _sqlite_code(exc: Exception) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlite_errorname", None)


@contextmanager
def translate_db_errors() -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        state, sqlite = _sqlstate(exc), _sqlite_code(exc)
        if state == _PG_UNIQUE_VIOLATION or sqlite in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
            raise AlreadyExists("entity already exists") from exc
        if state == _PG_FK_VIOLATION or sqlite == "SQLITE_CONSTRAINT_FOREIGNKEY":
            raise FailedPrecondition("referenced entity does not exist") from exc
        raise
    except OperationalError as exc:
        if _sqlstate(exc) in _PG_SERIALIZATION or _sqlite_code(exc) in ("SQLITE_BUSY", "SQLITE_LOCKED"):
            raise Unavailable("database busy, retry") from exc
        raise
