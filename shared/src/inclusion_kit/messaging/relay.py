"""The outbox relay: sends unpublished outbox rows to Kafka, in order, then marks them.

One relay is active per service: it holds a PostgreSQL advisory lock for as long as it runs, and
others wait as standbys. ``FOR UPDATE SKIP LOCKED`` is a safety net should two ever overlap.
It is woken by LISTEN/NOTIFY (the unit of work notifies at commit) or a short poll.

Progress is the ``published_at`` column, never "rows above the last sequence number sent": a
transaction that commits late can hold a lower sequence number than rows already sent.
A crash between the broker's ack and the mark re-sends the rows with the same ``ce_id``;
consumers' inboxes drop the duplicates. "Marking" deletes the row by default (see
``_mark_published``); ``keep_published`` stamps ``published_at`` and keeps rows for a while.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import BigInteger, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inclusion_kit.contracts.envelope import Envelope
from inclusion_kit.db.metadata import KitTables
from inclusion_kit.messaging.unit_of_work import envelope_from_outbox, notify_channel

log = logging.getLogger(__name__)


class Publisher(Protocol):
    async def publish_batch(self, envelopes: Sequence[Envelope]) -> list[BaseException | None]: ...


def advisory_lock_key(source: str) -> int:
    digest = hashlib.sha256(f"inclusion-outbox-relay:{source}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        tables: KitTables,
        publisher: Publisher,
        *,
        source: str,
        batch_size: int = 2000,
        poll_interval: float = 0.5,
        lock_retry: float = 2.0,
        retention: timedelta = timedelta(days=7),
        keep_published: bool = False,
    ) -> None:
        self.keep_published = keep_published
        self.engine = engine
        self.tables = tables
        self.publisher = publisher
        self.source = source
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lock_retry = lock_retry
        self.retention = retention
        self.published_total = 0
        self._wake = asyncio.Event()
        self.is_postgres = engine.dialect.name == "postgresql"

    # -- one pass ------------------------------------------------------------------------------
    async def publish_pending(self, limit: int | None = None) -> int:
        """Send one batch of unpublished rows; returns how many were marked published."""
        outbox = self.tables.outbox
        query = (
            select(outbox)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.seq)
            .limit(limit or self.batch_size)
        )
        if self.is_postgres:
            query = query.with_for_update(skip_locked=True)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            if not rows:
                await conn.rollback()
                return 0
            envelopes = [envelope_from_outbox(row) for row in rows]
            results = await self.publisher.publish_batch(envelopes)
            # Mark the rows acked before the first failure; from there on everything is sent
            # again later (duplicates are harmless, reordering one child's events is not).
            sent: list[int] = []
            first_error: BaseException | None = None
            for row, error in zip(rows, results, strict=True):
                if error is not None:
                    first_error = error
                    break
                sent.append(row.seq)
            await self._mark_published(conn, sent)
            if first_error is not None:
                failed = [row.seq for row in rows[len(sent) :]]
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.seq.in_(failed))
                    .values(
                        attempts=outbox.c.attempts + 1,
                        last_error=f"{type(first_error).__name__}: {str(first_error)[:300]}",
                    )
                )
                log.warning(
                    "outbox publish failed",
                    extra={"source": self.source, "failed": len(failed), "error": type(first_error).__name__},
                )
            await conn.commit()
            self.published_total += len(sent)
            return len(sent)

    async def _mark_published(self, conn: AsyncConnection, seqs: list[int]) -> None:
        """Record that the broker acknowledged these rows.

        By default the rows are deleted: they are in Kafka, the log of record, and an UPDATE
        would write a whole new row version and index entries (``published_at`` is in the
        unpublished index's predicate) - which halved the relay's throughput in bench/bus.py.
        With ``keep_published`` they are stamped instead and purged after ``retention``.
        """
        if seqs and not self.keep_published:
            outbox = self.tables.outbox
            if self.is_postgres:
                # One array parameter: an ARRAY[...] literal or an expanding IN builds a SQL
                # element per row, which cost the relay a fifth of its time.
                await conn.execute(
                    delete(outbox).where(
                        outbox.c.seq == func.any_(bindparam("seqs", type_=ARRAY(BigInteger)))
                    ),
                    {"seqs": seqs},
                )
            else:
                await conn.execute(delete(outbox).where(outbox.c.seq.in_(seqs)))
        elif seqs:
            outbox = self.tables.outbox
            await conn.execute(
                update(outbox)
                .where(outbox.c.seq.in_(seqs))
                .values(published_at=datetime.now(UTC), attempts=outbox.c.attempts + 1)
            )

    async def drain(self) -> int:
        total = 0
        while n := await self.publish_pending():
            total += n
        return total

    async def lag(self) -> tuple[int, float]:
        """(unpublished rows, age in seconds of the oldest)."""
        outbox = self.tables.outbox
        async with self.engine.connect() as conn:
            count, oldest = (
                await conn.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
                )
            ).one()
        if oldest is None:
            return int(count), 0.0
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return int(count), max(0.0, (datetime.now(UTC) - oldest).total_seconds())

    async def purge_published(self) -> int:
        outbox = self.tables.outbox
        cutoff = datetime.now(UTC) - self.retention
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(outbox).where(outbox.c.published_at.is_not(None), outbox.c.published_at < cutoff)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    # -- the loop ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        if not self.is_postgres:
            await self._loop(stop)
            return
        while not stop.is_set():
            try:
                await self._run_locked(stop)
            except Exception:
                # The database went away (a restart, a failover) while taking or giving back the
                # lock: it went with the session. Take it again once the database is back.
                log.exception("relay lost its database session", extra={"source": self.source})
                await _wait(stop, self.lock_retry)

    async def _run_locked(self, stop: asyncio.Event) -> None:
        """Relay while holding the advisory lock; return when stopped or when the session holding
        the lock is gone (then another relay may already hold it)."""
        async with self.engine.connect() as lock_conn:
            got = await lock_conn.scalar(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_lock_key(self.source)}
            )
            await lock_conn.commit()
            if not got:
                log.info("relay standby: another relay holds the lock", extra={"source": self.source})
                await _wait(stop, self.lock_retry)
                return
            log.info("relay active", extra={"source": self.source})
            listener = await self._listen(lock_conn)
            try:
                await self._loop(stop, lock_lost=listener[0].is_closed)
            finally:
                await self._unlisten(lock_conn, listener)
                if not listener[0].is_closed():  # a closed session holds no lock to give back
                    await lock_conn.execute(
                        text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_lock_key(self.source)}
                    )
                    await lock_conn.commit()

    async def _loop(self, stop: asyncio.Event, lock_lost: Callable[[], bool] | None = None) -> None:
        last_purge = datetime.now(UTC)
        while not stop.is_set():
            if lock_lost is not None and lock_lost():
                log.warning("relay lost the session holding its lock", extra={"source": self.source})
                return
            self._wake.clear()
            try:
                sent = await self.publish_pending()
            except Exception:
                log.exception("relay pass failed", extra={"source": self.source})
                sent = 0
                await _wait(stop, self.poll_interval * 4)
            if sent:
                continue
            if self.keep_published and datetime.now(UTC) - last_purge > timedelta(hours=1):
                last_purge = datetime.now(UTC)
                await self.purge_published()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait(
                    {waiter, stopper}, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
            finally:  # also when the relay itself is cancelled: no task left pending
                waiter.cancel()
                stopper.cancel()

    async def _listen(self, conn: AsyncConnection) -> Any:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection  # the asyncpg connection
        if driver is None:  # pragma: no cover - only on a closed connection
            raise RuntimeError("no driver connection to LISTEN on")
        channel = notify_channel(self.source)

        def on_notify(*_args: Any) -> None:
            self._wake.set()

        await driver.add_listener(channel, on_notify)
        return (driver, channel, on_notify)

    async def _unlisten(self, conn: AsyncConnection, listener: Any) -> None:
        driver, channel, callback = listener
        try:
            await driver.remove_listener(channel, callback)
        except Exception:  # connection already gone
            log.debug("remove_listener failed", exc_info=True)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
