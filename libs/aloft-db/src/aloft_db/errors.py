"""Database errors mapped once to Aloft errors, by SQLSTATE / driver error class, never by message text alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from aloft_service.errors import AlreadyExists, FailedPrecondition, Unavailable

_PG_UNIQUE_VIOLATION = "23505"
_PG_FK_VIOLATION = "23503"
_PG_SERIALIZATION = {"40001", "40P01"}
# Class 08 (connection exception) and the server shutting down / starting up: the database is away, not the query
# wrong. Callers get UNAVAILABLE with no SQL text; the pool reconnects by itself when the server is back.
_PG_CONNECTION_CLASS = "08"
_PG_SERVER_AWAY = {"57P01", "57P02", "57P03"}
DATABASE_UNAVAILABLE = "database unavailable, retry later"


def _sqlstate(exc: Exception) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _sqlite_code(exc: Exception) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlite_errorname", None)


def _database_away(exc: DBAPIError) -> bool:
    """The connection was lost or could not be made (as opposed to a statement the database rejected)."""
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    state = _sqlstate(exc)
    if state is not None:
        return state.startswith(_PG_CONNECTION_CLASS) or state in _PG_SERVER_AWAY
    # No SQLSTATE and no SQLite error name: the driver failed before the server answered (refused, reset).
    return isinstance(exc, OperationalError) and _sqlite_code(exc) is None


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
    except DBAPIError as exc:
        if _sqlstate(exc) in _PG_SERIALIZATION or _sqlite_code(exc) in ("SQLITE_BUSY", "SQLITE_LOCKED"):
            raise Unavailable("database busy, retry") from exc
        if _database_away(exc):
            raise Unavailable(DATABASE_UNAVAILABLE) from exc
        raise
    except (PoolTimeout, ConnectionError) as exc:
        raise Unavailable(DATABASE_UNAVAILABLE) from exc
