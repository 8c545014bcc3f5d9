"""Run every service in one process: one SQLite file per service and the embedded bus.

Same domain, service layer and outbox/inbox code as production; only the transport differs.
Each service's API gets its own port; the bus delivers every service's outbox to the in-process
consumers and marks a row sent only when each subscriber's inbox has it, so a restart loses
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

import cme_tracker.bootstrap
import cme_tracker.config
import cme_tracker.entrypoints.api.app
import enforcement.bootstrap
import enforcement.config
import enforcement.entrypoints.api.app
import exclusions.bootstrap
import exclusions.config
import exclusions.entrypoints.api.app
import referral_api.bootstrap
import referral_api.config
import referral_api.entrypoints.api.app
import reporting.bootstrap
import reporting.config
import reporting.entrypoints.api.app
from inclusion_kit.auth import Role, mint_token
from inclusion_kit.calendar import london_today
from inclusion_kit.messaging.embedded import EmbeddedBus
from inclusion_kit.settings import AuthSettings, ServiceSettings
from inclusion_platform.demo import (
    DemoCancelled,
    DemoCounty,
    DemoLoader,
    Endpoints,
    Progress,
    Size,
    demo_tokens,
)
from portal.config import SERVICE_NAMES as PORTAL_SERVICE_KEYS
from portal.config import PortalSettings, ServiceUrls
from portal.entrypoints.app import create_app as create_portal_app

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    settings_class: type[ServiceSettings]
    bootstrap: Callable[[Any], Any]
    create_app: Callable[[Any], Any]


SERVICES = [
    ServiceEntry(
        "referral-api",
        referral_api.config.Settings,
        referral_api.bootstrap.bootstrap,
        referral_api.entrypoints.api.app.create_app,
    ),
    ServiceEntry(
        "cme-tracker",
        cme_tracker.config.Settings,
        cme_tracker.bootstrap.bootstrap,
        cme_tracker.entrypoints.api.app.create_app,
    ),
    ServiceEntry(
        "exclusions",
        exclusions.config.Settings,
        exclusions.bootstrap.bootstrap,
        exclusions.entrypoints.api.app.create_app,
    ),
    ServiceEntry(
        "enforcement",
        enforcement.config.Settings,
        enforcement.bootstrap.bootstrap,
        enforcement.entrypoints.api.app.create_app,
    ),
    ServiceEntry(
        "reporting",
        reporting.config.Settings,
        reporting.bootstrap.bootstrap,
        reporting.entrypoints.api.app.create_app,
    ),
]


def service_settings(entry: ServiceEntry, data_dir: Path) -> ServiceSettings:
    # Environment variables still apply (e.g. REFERRAL_LOG_LEVEL); the data location and the
    # embedded bus are what `inclusion up` fixes.
    return entry.settings_class(  # type: ignore[call-arg]
        mode="local", bus="embedded", database_url=f"sqlite+aiosqlite:///{data_dir / (entry.name + '.db')}"
    )


def role_tokens(auth: AuthSettings) -> dict[str, str]:
    ttl = timedelta(hours=12)
    return {
        "school (URN 118000)": mint_token(
            auth, subject="demo-school", roles=[Role.SCHOOL], urns=["118000"], ttl=ttl
        ),
        "officer": mint_token(auth, subject="demo-officer", roles=[Role.OFFICER], ttl=ttl),
        "early_help": mint_token(auth, subject="demo-early-help", roles=[Role.EARLY_HELP], ttl=ttl),
        "manager": mint_token(auth, subject="demo-manager", roles=[Role.MANAGER], ttl=ttl),
        "admin": mint_token(auth, subject="demo-admin", roles=[Role.ADMIN], ttl=ttl),
    }


DEMO_MARKER = "demo-loaded"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to the platform. Each uvicorn server would
    otherwise take the signal for itself and stop on its own, before the demo loader and the bus
    are told; the platform stops them all in order from one event."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def portal_settings(host: str, first_port: int, auth: AuthSettings) -> PortalSettings:
    """The portal (port after the five services) calls each service on its own port and signs
    users in locally with the services' signing key."""
    urls = ServiceUrls(
        **{key: f"http://{host}:{first_port + i}" for i, key in enumerate(PORTAL_SERVICE_KEYS)}
    )
    return PortalSettings(
        mode="local", services=urls, auth=auth, public_url=f"http://{host}:{first_port + len(SERVICES)}"
    )


async def run(
    data_dir: Path,
    host: str,
    first_port: int,
    stop: asyncio.Event,
    announce: Callable[[str], None] = print,
    demo: Size | None = None,
) -> None:
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    kernels = []
    servers = []
    for index, entry in enumerate(SERVICES):
        settings = service_settings(entry, data_dir)
        kernel = entry.bootstrap(settings)
        await kernel.migrate()
        kernels.append(kernel)
        app = entry.create_app(settings)
        config = uvicorn.Config(app, host=host, port=first_port + index, log_config=None, lifespan="on")
        servers.append((entry, _Server(config), settings))
    portal_port = first_port + len(SERVICES)
    portal = _Server(
        uvicorn.Config(
            create_portal_app(portal_settings(host, first_port, servers[0][2].auth)),
            host=host,
            port=portal_port,
            log_config=None,
            lifespan="on",
        )
    )
    bus = EmbeddedBus(
        [k.embedded_producer() for k in kernels],
        [s for k in kernels for s in k.embedded_subscribers()],
    )
    tasks = [asyncio.create_task(server.serve(), name=entry.name) for entry, server, _ in servers]
    tasks.append(asyncio.create_task(portal.serve(), name="portal"))
    tasks.append(asyncio.create_task(bus.run(stop), name="embedded-bus"))
    # Scheduled jobs (overdue reviews, missed deadlines) as the workers run them in Kafka mode.
    tasks += [
        asyncio.create_task(kernel.run_periodic(job, stop), name=f"periodic:{job.name}")
        for kernel in kernels
        for job in kernel.periodic
    ]
    while not (portal.started and all(server.started for _, server, _ in servers)):
        if any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    failed = [t for t in tasks if t.done() and t.exception()]
    if failed:
        stop.set()
    else:
        lines = [
            "",
            "Inclusion and Attendance Service: running locally (embedded mode)",
            f"  data: {data_dir}",
        ]
        for index, (entry, _server, _settings) in enumerate(servers):
            base = f"http://{host}:{first_port + index}"
            lines.append(f"  {entry.name:<13} {base}   API docs: {base}/docs   health: {base}/readyz")
        lines.append(
            f"  {'portal':<13} http://{host}:{portal_port}   (sign in as a school, officer or manager)"
        )
        lines.append("")
        lines.append("Bearer tokens (local signing key, valid 12 hours):")
        for role, token in role_tokens(servers[0][2].auth).items():
            lines.append(f"  {role}: {token}")
        lines.append("")
        lines.append("Ctrl-C stops; the data is kept and used on the next start.")
        announce("\n".join(lines))
        if demo is not None and not (data_dir / DEMO_MARKER).exists():
            await _load_demo(data_dir, host, first_port, demo, servers[0][2].auth, announce, stop)
    await stop.wait()
    portal.should_exit = True
    for _entry, server, _ in servers:
        server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.gather(*tasks, return_exceptions=True)
    for kernel in kernels:
        await kernel.dispose()
    for task in failed:
        raise task.exception()  # type: ignore[misc]


async def _load_demo(
    data_dir: Path,
    host: str,
    first_port: int,
    size: Size,
    auth: AuthSettings,
    announce: Callable[[str], None],
    stop: asyncio.Event,
) -> None:
    """The demo county, through the services' own HTTP APIs (in a thread: the servers run on this
    loop). Loaded once per data directory; a failure is reported, not fatal."""
    county = DemoCounty(size, today=london_today())
    announce(
        f"Loading the demo county: {len(county.schools)} schools, {county.total_pupils} pupils, "
        f"{len(county.school_days())} school days of registers ..."
    )
    endpoints = Endpoints(*(f"http://{host}:{first_port + i}" for i in range(len(SERVICES))))
    progress = Progress()
    loader = DemoLoader(county, endpoints, demo_tokens(auth), progress=progress)
    loading = asyncio.ensure_future(asyncio.to_thread(loader.run))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({loading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not loading.done():
        # Shutting down mid-load: stop the loader between two requests, and load again next time
        # (every write carries an idempotency key, so what landed is not written twice).
        progress.cancel.set()
        with contextlib.suppress(DemoCancelled, httpx.HTTPError):
            await loading
        announce("The demo load was interrupted; it carries on at the next start.")
        return
    stopping.cancel()
    report = loading.result()
    if report.problems:
        announce("The demo county loaded with problems:\n  " + "\n  ".join(report.problems[:10]))
        return
    (data_dir / DEMO_MARKER).write_text(f"{size}\n")
    announce(
        f"Demo county loaded: {report.pupils} pupils, {report.marks_accepted} marks, "
        f"{report.referrals} referrals, {report.admissions} admissions, {report.exclusions} "
        f"exclusions, {report.penalty_requests} penalty requests ({report.notices_issued} notices issued)."
    )
