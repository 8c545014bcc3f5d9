"""The runtime every service is built on: its kernel (database, unit of work, relay, consumers)
and the FastAPI app factory (problems, health, readiness, metrics, limits).

A service's ``bootstrap.py`` is the one composition root: it builds a :class:`ServiceKernel` from
settings, naming its migrations, unit of work and consumers. Nothing here is created at import
time; ``create_app(settings)`` and the CLI each build their own kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inclusion_kit.contracts.registry import EventRegistry
from inclusion_kit.contracts.topics import dead_letter_topic
from inclusion_kit.db.engine import create_engine, session_factory
from inclusion_kit.db.metadata import KitTables
from inclusion_kit.db.migrations import assert_schema_current, upgrade_async
from inclusion_kit.http import BodyLimitMiddleware
from inclusion_kit.messaging.consumer import KafkaConsumerWorker, ReplayReport, replay_dead_letters
from inclusion_kit.messaging.dispatch import BatchHandler, Dispatcher, Handler, RetryPolicy
from inclusion_kit.messaging.embedded import (
    EmbeddedProducer,
    EmbeddedSubscriber,
    replay_embedded_dead_letters,
)
from inclusion_kit.messaging.kafka import (
    KafkaPublisher,
    check_broker,
    dead_letter_depth,
    ensure_topics,
    make_consumer,
    make_producer,
)
from inclusion_kit.messaging.relay import OutboxRelay, advisory_lock_key
from inclusion_kit.messaging.unit_of_work import UnitOfWork
from inclusion_kit.observability import RequestContextMiddleware, ServiceMetrics
from inclusion_kit.pagination import install_pagination
from inclusion_kit.problems import install_problem_handlers
from inclusion_kit.ratelimit import RateLimitMiddleware
from inclusion_kit.settings import ServiceSettings

log = logging.getLogger(__name__)

U = TypeVar("U", bound=UnitOfWork)


@dataclass
class ConsumerSpec(Generic[U]):
    """One consumer group of a service: which event types it handles and how."""

    name: str  # also the Kafka consumer group id and the inbox's consumer name
    handlers: Mapping[str, Handler[U]]
    batch_handlers: Mapping[str, BatchHandler[U]] = field(default_factory=dict)


@dataclass(frozen=True)
class PeriodicTask:
    """A scheduled job of a service (overdue reviews, missed deadlines): run by the worker in
    Kafka mode and by ``inclusion up`` in embedded mode, every ``interval_seconds``.

    ``run`` must be idempotent and safe to repeat (it is retried on the next tick after a failure);
    what it emits goes through a unit of work like any other write. On PostgreSQL one replica
    runs it at a time (a session advisory lock per service and task); the others skip that tick.
    """

    name: str
    run: Callable[[], Awaitable[object]]
    interval_seconds: float = 300.0


# Gen-0 threshold of a worker: a consumed batch (2,000-5,000 events) allocates some 100,000
# objects that live until its transaction commits. At CPython's default (700) they are promoted
# poll after poll and trigger full collections over everything start-up built: on the county day
# that was a fifth of enforcement's worker time, and validating an event in reporting took 35 us
# instead of 6 (bench/attendance_positions.py, bench/reports.py).
WORKER_GC_THRESHOLD = 10_000


def tune_gc_for_worker() -> None:
    """Leave what start-up built (modules, schemas, the calendar) out of the cyclic collector's
    scans, and collect the young generation less often. Called by :meth:`ServiceKernel.run_worker`
    (and by long batch jobs such as a rebuild) once wired, before consuming; reference counting
    still frees everything as usual. A higher threshold already set is kept."""
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(WORKER_GC_THRESHOLD, gen0), gen1, gen2)


@dataclass
class ServiceKernel(Generic[U]):
    settings: ServiceSettings
    source: str  # CloudEvents source, e.g. "inclusion/referral-api"
    migrations: Path
    tables: KitTables
    registry: EventRegistry
    uow_class: Callable[[async_sessionmaker[AsyncSession], KitTables, str], U]
    consumers: Sequence[ConsumerSpec[U]] = ()
    periodic: Sequence[PeriodicTask] = ()
    metrics: ServiceMetrics = field(init=False)
    _engine: AsyncEngine | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.metrics = ServiceMetrics(self.settings.service_name)

    # -- database ------------------------------------------------------------------------------
    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(
                self.settings.database_url, pool_size=self.settings.database_pool_size
            )
        return self._engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return session_factory(self.engine)

    def uow(self) -> U:
        return self.uow_class(self.sessions, self.tables, self.source)

    async def migrate(self) -> None:
        if self.settings.database_url.startswith("sqlite"):
            _ensure_sqlite_dir(self.settings.database_url)
        await upgrade_async(self.migrations, self.settings.database_url)

    async def check_schema(self, *, allow_newer: bool = False) -> None:
        await assert_schema_current(self.engine, self.migrations, allow_newer=allow_newer)

    async def dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    # -- messaging -----------------------------------------------------------------------------
    def retry_policy(self) -> RetryPolicy:
        c = self.settings.consumer
        return RetryPolicy(c.max_attempts, c.backoff_initial_seconds, c.backoff_max_seconds)

    def dispatchers(self) -> list[Dispatcher[U]]:
        return [
            Dispatcher(
                spec.name,
                self.registry,
                spec.handlers,
                self.uow,
                self.retry_policy(),
                batch_handlers=spec.batch_handlers,
            )
            for spec in self.consumers
        ]

    def relay(self, publisher: Any) -> OutboxRelay:
        r = self.settings.relay
        return OutboxRelay(
            self.engine,
            self.tables,
            publisher,
            source=self.source,
            batch_size=r.batch_size,
            poll_interval=r.poll_interval_seconds,
            lock_retry=r.lock_retry_seconds,
            keep_published=r.keep_published,
            retention=timedelta(days=r.retention_days),
        )

    def embedded_producer(self) -> EmbeddedProducer:
        return EmbeddedProducer(self.settings.service_name, self.engine, self.tables)

    def embedded_subscribers(self) -> list[EmbeddedSubscriber]:
        return [EmbeddedSubscriber(d, self.engine, self.tables) for d in self.dispatchers()]

    def dead_letter_topics(self) -> list[str]:
        return sorted(dead_letter_topic(t, d.consumer) for d in self.dispatchers() for t in d.topics)

    async def run_worker(self, stop: asyncio.Event) -> None:
        """Kafka mode: the outbox relay and every consumer group, until ``stop`` is set."""
        tune_gc_for_worker()
        if self.settings.bus != "kafka":
            raise RuntimeError("the worker runs in Kafka mode; embedded mode runs inside `inclusion up`")
        kafka = self.settings.kafka
        dispatchers = self.dispatchers()
        prefix = kafka.topic_prefix
        topics = set(self.registry.topics()) | set(self.dead_letter_topics())
        for d in dispatchers:
            topics.update(d.topics)
        await ensure_topics(
            kafka,
            {prefix + t for t in topics},
            create=self.settings.mode in ("local", "test"),
        )
        producer = make_producer(kafka, client_id=f"{self.settings.service_name}-relay")
        await producer.start()
        consumers = []
        try:
            relay = self.relay(KafkaPublisher(producer, prefix))
            tasks = [
                asyncio.create_task(relay.run(stop), name="relay"),
                asyncio.create_task(self._watch_outbox(relay, stop), name="outbox-metrics"),
                asyncio.create_task(self._watch_dead_letters(stop), name="dead-letter-metrics"),
                *(
                    asyncio.create_task(self.run_periodic(task, stop), name=f"periodic:{task.name}")
                    for task in self.periodic
                ),
            ]
            for dispatcher in dispatchers:
                consumer = make_consumer(
                    kafka,
                    group_id=prefix + dispatcher.consumer,
                    client_id=f"{dispatcher.consumer}-consumer",
                    topics=[prefix + t for t in dispatcher.topics],
                    max_poll_records=self.settings.consumer.batch_max_records,
                )
                await consumer.start()
                consumers.append(consumer)
                worker = KafkaConsumerWorker(
                    dispatcher,
                    consumer,
                    producer,
                    group_id=dispatcher.consumer,
                    topic_prefix=prefix,
                    max_batch=self.settings.consumer.batch_max_records,
                    metrics=self.metrics,
                )
                tasks.append(asyncio.create_task(worker.run(stop), name=f"consumer:{dispatcher.consumer}"))
            log.info("worker running", extra={"service": self.settings.service_name, "count": len(tasks)})
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({*tasks, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            for task in tasks:
                if not task.done():
                    task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            stopper.cancel()
            await asyncio.gather(stopper, return_exceptions=True)  # reaped, not left pending
            errors = [
                r
                for r in results
                if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
            ]
            if errors:
                raise errors[0]
        finally:
            for consumer in consumers:
                await consumer.stop()
            await producer.stop()

    async def run_periodic(self, task: PeriodicTask, stop: asyncio.Event) -> None:
        """Run ``task`` every ``interval_seconds`` until ``stop``; a failed run is logged and the
        next tick tries again."""
        key = advisory_lock_key(f"{self.source}:periodic:{task.name}")
        while not stop.is_set():
            try:
                await self._run_once_locked(task, key)
            except Exception:
                log.exception(
                    "periodic task failed", extra={"service": self.settings.service_name, "task": task.name}
                )
            try:
                await asyncio.wait_for(stop.wait(), task.interval_seconds)
            except TimeoutError:
                pass

    async def _run_once_locked(self, task: PeriodicTask, key: int) -> None:
        if self.engine.dialect.name != "postgresql":
            await task.run()
            return
        async with self.engine.connect() as conn:
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            await conn.commit()
            if not got:
                return  # another replica is running it
            try:
                await task.run()
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await conn.commit()

    async def _watch_dead_letters(self, stop: asyncio.Event, interval: float = 30.0) -> None:
        """``dead_letter_depth_records`` per consumer group and dead-letter topic."""
        prefix = self.settings.kafka.topic_prefix
        groups = {
            prefix + d.consumer: [prefix + dead_letter_topic(t, d.consumer) for t in d.topics]
            for d in self.dispatchers()
        }
        if not groups:
            # Nothing to measure (a service without consumers). Wait rather than return: the
            # worker stops when any of its tasks ends.
            await stop.wait()
            return
        while not stop.is_set():
            try:
                depths = await dead_letter_depth(self.settings.kafka, groups)
                for (group, topic), depth in depths.items():
                    self.metrics.dead_letter_depth.labels(
                        group.removeprefix(prefix), topic.removeprefix(prefix)
                    ).set(depth)
            except Exception as exc:
                log.warning("dead-letter depth not measured", extra={"error": type(exc).__name__})
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass

    async def _watch_outbox(self, relay: OutboxRelay, stop: asyncio.Event) -> None:
        last_total = 0
        while not stop.is_set():
            with contextlib.suppress(Exception):
                count, age = await relay.lag()
                self.metrics.outbox_unpublished.set(count)
                self.metrics.outbox_oldest_age.set(age)
                self.metrics.outbox_published.inc(relay.published_total - last_total)
                last_total = relay.published_total
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5)

    async def replay_dead_letters(self) -> ReplayReport | dict[str, int]:
        if self.settings.bus == "kafka":
            prefix = self.settings.kafka.topic_prefix
            report = ReplayReport()
            producer = make_producer(
                self.settings.kafka, client_id=f"{self.settings.service_name}-dlt-replay"
            )
            await producer.start()
            try:
                await self._replay_kafka(report, producer, prefix)
            finally:
                await producer.stop()
            return report
        totals: dict[str, int] = {}
        for subscriber in self.embedded_subscribers():
            for key, value in (await replay_embedded_dead_letters(subscriber)).items():
                totals[key] = totals.get(key, 0) + value
        return totals

    async def _replay_kafka(self, report: ReplayReport, producer: Any, prefix: str) -> None:
        for dispatcher in self.dispatchers():

            def factory(group: str) -> Any:
                return make_consumer(self.settings.kafka, group_id=group, client_id=f"{group}-client")

            part = await replay_dead_letters(
                dispatcher,
                factory,
                [prefix + dead_letter_topic(t, dispatcher.consumer) for t in dispatcher.topics],
                producer=producer,
                group_id=prefix + dispatcher.consumer,
                topic_prefix=prefix,
            )
            report.replayed += part.replayed
            report.duplicates += part.duplicates
            report.skipped += part.skipped
            report.failed += part.failed
            report.errors.extend(part.errors)


def _ensure_sqlite_dir(url: str) -> None:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def create_service_app(
    kernel: ServiceKernel[Any],
    *,
    title: str,
    description: str,
    version: str,
    routers: Sequence[APIRouter] = (),
    bulk_prefixes: Sequence[str] = (),
    on_startup: Sequence[Callable[[], Awaitable[None]]] = (),
    openapi_tags: list[dict[str, Any]] | None = None,
) -> FastAPI:
    """A FastAPI app with the platform's conventions wired in."""
    from inclusion_kit.auth import install_token_verifier

    settings = kernel.settings

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.check_schema_on_start:
            await kernel.check_schema()  # refuse to serve on a stale schema
        for hook in on_startup:
            await hook()
        try:
            yield
        finally:
            await app.state.token_verifier.aclose()
            await kernel.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_tags=openapi_tags,
    )
    app.state.kernel = kernel
    app.state.settings = settings
    install_token_verifier(app, settings.auth)  # raises on unsafe auth settings
    install_pagination(app, settings)  # cursors signed with HTTP__CURSOR_SECRET
    install_problem_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.http.max_body_bytes,
        bulk_limit=settings.http.max_bulk_body_bytes,
        bulk_prefixes=bulk_prefixes,
    )
    # Outermost last: correlation id and metrics first, then the rate limit (a 429 is counted and
    # carries the id, and is refused before the body is read), then the body limit.
    app.add_middleware(RateLimitMiddleware, per_minute=settings.http.rate_limit_per_minute)
    app.add_middleware(RequestContextMiddleware, metrics=kernel.metrics)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", tags=["operations"], summary="Readiness: database (and broker in Kafka mode)")
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        ok = True
        try:
            async with kernel.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            # A newer release's migration (expand-then-contract) keeps this pod serving.
            await kernel.check_schema(allow_newer=True)
            checks["database"] = "ok"
        except Exception as exc:
            ok = False
            checks["database"] = f"failed: {type(exc).__name__}"
        if settings.bus == "kafka":
            # Reported, not required: the API writes to the outbox, and the worker delivers when
            # the broker is back. Failing readiness would take every API out of rotation for a
            # broker outage that loses nothing.
            try:
                await check_broker(settings.kafka, 3.0)
                checks["kafka"] = "ok"
            except Exception as exc:
                checks["kafka"] = f"unreachable: {type(exc).__name__} (events wait in the outbox)"
        body = {"status": "ready" if ok else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Any:
        return kernel.metrics.render()

    for router in routers:
        app.include_router(router)
    document_roles(app)
    return app


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI may keep an included router as one
    entry holding the original router rather than copying its routes into the app)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        else:
            inner = getattr(route, "original_router", None) or getattr(route, "router", None)
            if inner is not None and inner is not route:
                yield from api_routes(getattr(inner, "routes", ()))


def route_roles(route: APIRoute) -> frozenset[str] | None:
    """The roles a route admits (from its ``require_roles`` dependencies), or None when it needs
    no particular role (public, or any signed-in principal)."""
    from inclusion_kit.auth import REQUIRED_ROLES_ATTRIBUTE

    found: frozenset[str] | None = None
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        roles = getattr(dependant.call, REQUIRED_ROLES_ATTRIBUTE, None)
        if roles is not None:
            names = frozenset(str(r) for r in roles)
            found = names if found is None else found & names
        pending.extend(dependant.dependencies)
    return found


def _needs_principal(route: APIRoute) -> bool:
    from inclusion_kit.auth import current_principal

    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call is current_principal:
            return True
        pending.extend(dependant.dependencies)
    return False


def document_roles(app: FastAPI) -> None:
    """State each operation's roles in its OpenAPI description and as ``x-roles``, from the route's
    own dependencies, so the documentation cannot drift from the code."""
    for route in api_routes(app.routes):
        if not route.include_in_schema:
            continue
        roles = route_roles(route)
        if roles is None:
            if not _needs_principal(route):
                continue
            from inclusion_kit.auth import Role

            roles = frozenset(str(r) for r in Role)
            line = (
                "Roles: any signed-in role (what it returns is limited to the caller's schools or districts)."
            )
        else:
            line = f"Roles: {', '.join(sorted(roles))}."
        route.openapi_extra = {**(route.openapi_extra or {}), "x-roles": sorted(roles)}
        if line not in (route.description or ""):
            route.description = f"{route.description}\n\n{line}" if route.description else line
