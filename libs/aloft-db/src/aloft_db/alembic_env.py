"""The body of every service's Alembic ``env.py``: ``run(target_metadata)``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine, pool


def run(target_metadata: MetaData) -> None:
    config = context.config
    version_table = config.attributes.get("version_table", "alembic_version")
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, version_table=version_table, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)  # type: ignore[arg-type]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
