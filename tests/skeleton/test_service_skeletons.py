"""Every service has the common skeleton and it works: migrations, app, health, CLI.

One parametrised test over the five services instead of five copies: the skeleton is shared, so is
its proof. Each runs on SQLite (embedded mode) and on the real PostgreSQL (+ Kafka for /readyz).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI

from inclusion_kit.db import StaleSchemaError

SERVICES = {
    "referral-api": ("referral_api", "REFERRAL_"),
    "cme-tracker": ("cme_tracker", "CME_"),
    "exclusions": ("exclusions", "EXCLUSIONS_"),
    "enforcement": ("enforcement", "ENFORCEMENT_"),
    "reporting": ("reporting", "REPORTING_"),
}
ROOT = Path(__file__).resolve().parents[2]


def settings_for(package: str, **values: Any) -> Any:
    config = importlib.import_module(f"{package}.config")
    return config.Settings(**values)


def app_for(package: str, settings: Any) -> FastAPI:
    return importlib.import_module(f"{package}.entrypoints.api.app").create_app(settings)


def kernel_for(package: str, settings: Any) -> Any:
    return importlib.import_module(f"{package}.bootstrap").bootstrap(settings)


@asynccontextmanager
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


def test_every_service_folder_has_the_skeleton() -> None:
    for directory, (package, _prefix) in SERVICES.items():
        src = ROOT / "services" / directory / "src" / package
        for part in (
            "config.py",
            "bootstrap.py",
            "views.py",
            "domain/model.py",
            "domain/commands.py",
            "domain/events.py",
            "domain/errors.py",
            "service_layer/handlers.py",
            "service_layer/unit_of_work.py",
            "service_layer/publishing.py",
            "adapters/orm.py",
            "adapters/repository.py",
            "entrypoints/api/app.py",
            "entrypoints/api/dependencies.py",
            "entrypoints/api/schemas.py",
            "entrypoints/worker.py",
            "entrypoints/cli.py",
            "migrations/env.py",
            "migrations/versions/0001_kit_tables.py",
        ):
            assert (src / part).is_file(), f"{directory}: missing {part}"
        assert (ROOT / "services" / directory / "alembic.ini").is_file()


@pytest.mark.parametrize("directory", sorted(SERVICES))
async def test_sqlite_migrate_serve_health_metrics_and_problems(directory: str, tmp_path: Path) -> None:
    package, _ = SERVICES[directory]
    settings = settings_for(package, database_url=f"sqlite+aiosqlite:///{tmp_path / 'svc.db'}")
    kernel = kernel_for(package, settings)
    await kernel.migrate()
    await kernel.dispose()
    app = app_for(package, settings)
    async with client(app) as c:
        assert (await c.get("/healthz")).json() == {"status": "ok", "service": directory}
        ready = await c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}
        missing = await c.get("/no-such-thing", headers={"X-Correlation-ID": "abc-123"})
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        body = missing.json()
        assert body["status"] == 404 and body["type"].endswith("/not-found")
        assert body["correlation_id"] == "abc-123" and missing.headers["x-correlation-id"] == "abc-123"
        metrics = await c.get("/metrics")
        assert metrics.status_code == 200
        assert 'http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in metrics.text
        openapi = (await c.get("/openapi.json")).json()
        assert openapi["openapi"].startswith("3.1")


@pytest.mark.parametrize("directory", sorted(SERVICES))
async def test_app_refuses_to_start_on_a_stale_schema(directory: str, tmp_path: Path) -> None:
    package, _ = SERVICES[directory]
    settings = settings_for(package, database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    app = app_for(package, settings)
    with pytest.raises(StaleSchemaError, match="migrate"):
        async with client(app):
            pass


def _no_drift(connection: Any, metadata: Any) -> list[Any]:
    context = MigrationContext.configure(connection)
    return list(compare_metadata(context, metadata))


@pytest.mark.integration
@pytest.mark.parametrize("directory", sorted(SERVICES))
async def test_postgres_migrations_match_models_and_readyz_checks_kafka(
    directory: str, pg_url: str, kafka_bootstrap: str
) -> None:
    package, _ = SERVICES[directory]
    settings = settings_for(
        package, database_url=pg_url, bus="kafka", kafka={"bootstrap_servers": kafka_bootstrap}
    )
    kernel = kernel_for(package, settings)
    await kernel.migrate()
    orm = importlib.import_module(f"{package}.adapters.orm")
    async with kernel.engine.connect() as conn:
        drift = await conn.run_sync(_no_drift, orm.metadata)
    await kernel.dispose()
    assert drift == [], f"{directory}: models and migrations differ (write a migration): {drift}"
    app = app_for(package, settings)
    async with client(app) as c:
        ready = await c.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}


@pytest.mark.parametrize("directory", sorted(SERVICES))
async def test_sqlite_migrations_match_models(directory: str, tmp_path: Path) -> None:
    package, _ = SERVICES[directory]
    settings = settings_for(package, database_url=f"sqlite+aiosqlite:///{tmp_path / 'svc.db'}")
    kernel = kernel_for(package, settings)
    await kernel.migrate()
    orm = importlib.import_module(f"{package}.adapters.orm")
    async with kernel.engine.connect() as conn:
        drift = await conn.run_sync(_no_drift, orm.metadata)
    await kernel.dispose()
    assert drift == []


async def test_readyz_reports_an_unreachable_broker_but_stays_ready(tmp_path: Path) -> None:
    """The API writes to the outbox: a broker outage loses nothing and must not take every API
    out of rotation. Readiness says the broker is unreachable and stays 200."""
    settings = settings_for(
        "cme_tracker",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'svc.db'}",
        bus="kafka",
        kafka={"bootstrap_servers": "127.0.0.1:1"},
    )
    kernel = kernel_for("cme_tracker", settings)
    await kernel.migrate()
    await kernel.dispose()
    async with client(app_for("cme_tracker", settings)) as c:
        ready = await c.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["kafka"].startswith("unreachable")


async def test_readyz_accepts_a_newer_schema_but_not_an_older_one(tmp_path: Path) -> None:
    """After a newer release's migrate job, the running release stays ready (expand-then-contract);
    a database behind the code is not ready."""
    from sqlalchemy import text

    settings = settings_for(
        "cme_tracker", database_url=f"sqlite+aiosqlite:///{tmp_path / 'svc.db'}", check_schema_on_start=False
    )
    kernel = kernel_for("cme_tracker", settings)
    await kernel.migrate()
    async with kernel.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed9999'"))
    await kernel.dispose()
    async with client(app_for("cme_tracker", settings)) as c:
        assert (await c.get("/readyz")).status_code == 200
    async with kernel.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    await kernel.dispose()
    async with client(app_for("cme_tracker", settings)) as c:
        behind = await c.get("/readyz")
    assert behind.status_code == 503 and behind.json()["checks"]["database"].startswith("failed")


@pytest.mark.parametrize("directory", sorted(SERVICES))
def test_cli_migrate_and_help(directory: str, tmp_path: Path) -> None:
    package, prefix = SERVICES[directory]
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefix)}
    env[f"{prefix}DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    command = [sys.executable, "-m", f"{package}.entrypoints.cli"]
    helped = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert helped.returncode == 0
    for sub in ("api", "worker", "migrate", "dlt-replay"):
        assert sub in helped.stdout
    migrated = subprocess.run(
        [*command, "migrate"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "schema is at head" in migrated.stdout
    assert (tmp_path / "cli.db").exists()
