"""Alembic helpers shared by every service's migration environment.

Each service keeps its own ``migrations/`` folder (its schema lifecycle is its own); these helpers
keep the ``env.py`` files to a few lines and give apps a schema-is-current check: an app refuses to
start on a database that is behind (or ahead of) the code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, pool
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from inclusion_kit.db.engine import is_sqlite, normalise_url
from inclusion_kit.db.metadata import KitTables


class StaleSchemaError(RuntimeError):
    """The database schema is not at the code's Alembic head."""


def alembic_config(script_location: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    # Passed as an attribute, not an ini option, so '%' in passwords needs no escaping.
    config.attributes["database_url"] = normalise_url(database_url)
    return config


def upgrade(script_location: Path, database_url: str, revision: str = "head") -> None:
    """Run ``alembic upgrade`` (blocking; call from a thread inside an event loop)."""
    command.upgrade(alembic_config(script_location, database_url), revision)


async def upgrade_async(script_location: Path, database_url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, script_location, database_url, revision)


def head_revisions(script_location: Path) -> set[str]:
    script = ScriptDirectory.from_config(alembic_config(script_location, "sqlite://"))
    return set(script.get_heads())


def known_revisions(script_location: Path) -> set[str]:
    script = ScriptDirectory.from_config(alembic_config(script_location, "sqlite://"))
    return {revision.revision for revision in script.walk_revisions()}


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: set(MigrationContext.configure(sync).get_current_heads()))


async def assert_schema_current(
    engine: AsyncEngine, script_location: Path, *, allow_newer: bool = False
) -> None:
    """Raise unless the database is at the code's head revision.

    ``allow_newer`` (readiness of running pods) also accepts a database at revisions this code does
    not know: a newer release's migrate job has run, and migrations are written expand-then-contract
    so the release before can keep serving until it is replaced. A start-up still needs the head."""
    heads = head_revisions(script_location)
    current = await current_revisions(engine)
    if allow_newer and current and not (current & known_revisions(script_location)):
        return
    if current != heads:
        raise StaleSchemaError(
            f"database schema is at {sorted(current) or 'no revision'}, code expects {sorted(heads)}: "
            "run the service's `migrate` command first"
        )


def run_env(target_metadata: MetaData, *, include_object: Callable[..., bool] | None = None) -> None:
    """Body of a service's ``migrations/env.py``: online migrations over an async engine."""
    config = context.config
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: use inclusion_kit.db.migrations.alembic_config()")
    url = normalise_url(url)

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite(url),  # SQLite alters tables by copying them
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        do_run(connection)
        return

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as conn:
                await conn.run_sync(do_run)
                await conn.commit()
        finally:
            await engine.dispose()

    asyncio.run(run_async())


def create_kit_tables(op: Any) -> None:
    """Create the outbox, inbox, dead-letter and audit tables (a service's first migration).

    This builds the tables from the current :class:`KitTables` definition, which is version 1.
    When that definition changes, first freeze a copy of the v1 shape here (so the first
    migration keeps meaning what it meant) and ship the change as a new helper used by a new
    migration in every service; ``alembic check`` in each service's tests catches a forgotten one.
    """
    tables = KitTables(_fresh_metadata())
    bind = op.get_bind()
    tables.metadata.create_all(bind)


def _fresh_metadata() -> MetaData:
    from inclusion_kit.db.metadata import make_metadata

    return make_metadata()


def drop_kit_tables(op: Any) -> None:
    tables = KitTables(_fresh_metadata())
    tables.metadata.drop_all(op.get_bind())
