"""pytest plugin (entry point ``inclusion_kit``): fixtures for real infrastructure and fakes.

- ``postgres_admin_url`` (session): a PostgreSQL server from the environment or a container.
- ``pg_url`` (function): a fresh, empty database for one test, dropped afterwards.
- ``kafka_bootstrap`` (session) and ``kafka_settings`` (function): a real broker, with a topic
  prefix unique to the test so tests never see each other's records.
- ``sqlite_url`` (function): an SQLite file in the test's temporary directory.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from inclusion_kit.settings import KafkaSettings
from inclusion_kit.testing import infra


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    try:
        with infra.postgres_server() as url:
            yield url
    except infra.InfrastructureMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
async def pg_url(postgres_admin_url: str) -> AsyncIterator[str]:
    name = await infra.create_database(postgres_admin_url)
    try:
        yield infra.database_url(postgres_admin_url, name)
    finally:
        await infra.drop_database(postgres_admin_url, name)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    try:
        with infra.kafka_server() as servers:
            yield servers
    except infra.InfrastructureMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"test-{uuid.uuid4().hex[:10]}.")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say in the log which real infrastructure the integration tests use."""
    import os

    from sqlalchemy.engine import make_url

    postgres = os.environ.get("INCLUSION_POSTGRES_URL")
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    where = (
        make_url(postgres).render_as_string(hide_password=True)
        if postgres
        else "not set (testcontainers or fail)"
    )
    return [f"inclusion: PostgreSQL {where}; Kafka {kafka or 'not set (testcontainers or fail)'}"]
