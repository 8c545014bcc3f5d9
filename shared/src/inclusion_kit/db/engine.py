"""Async engines and session factories for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``sqlite://`` URLs and pick the async drivers."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.get_driver_name() != "asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite" and parsed.get_driver_name() != "aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    url = normalise_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if is_sqlite(url):
        kwargs["connect_args"] = {"timeout": 30}
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=1800)
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the embedded bus read one service's outbox while its API writes; foreign keys
        # are off by default in SQLite.
        # Let SQLAlchemy (the "begin" hook below) own transactions instead of pysqlite.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock at BEGIN so two writers queue instead of failing to upgrade a
        # read lock half-way through a unit of work.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def asyncpg_connection(session: AsyncSession) -> Any | None:
    """The asyncpg connection under ``session``'s transaction, or None off PostgreSQL.

    For bulk paths that need what SQLAlchemy does not offer (COPY) or cannot do cheaply (a
    prepared statement over arrays without compiling an expanding IN per call). The transaction
    is begun first, so statements sent on the returned connection commit or roll back with the
    session's.
    """
    conn = await session.connection()
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "asyncpg":
        return None
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:  # pragma: no cover - a live pooled connection always has one
        return None
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens the database transaction lazily, at the first
        # statement: send one so that what follows on the raw connection is inside it.
        await session.execute(text("SELECT 1"))
    return driver
