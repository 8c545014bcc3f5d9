"""Real PostgreSQL and Kafka for tests, taken from the environment.

Order of preference: the environment (``INCLUSION_POSTGRES_URL``, ``KAFKA_BOOTSTRAP_SERVERS``),
then testcontainers where a Docker engine answers, else a failure that says how to start them.
Integration tests never skip: missing infrastructure is an error, not a pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

HOW_TO_START = (
    "start the local infrastructure and export its settings first:\n"
    '    eval "$(deploy/local/up.sh)"\n'
    "(installs PostgreSQL from Debian's packages and a Kafka broker from Maven Central's jars), or set "
    "INCLUSION_POSTGRES_URL / KAFKA_BOOTSTRAP_SERVERS to servers you already run."
)


class InfrastructureMissing(RuntimeError):
    pass


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],  # noqa: S607
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield an admin URL (``postgresql://…/postgres``) of a server that may create databases."""
    url = os.environ.get("INCLUSION_POSTGRES_URL")
    if url:
        yield url
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    raise InfrastructureMissing(f"PostgreSQL is needed and INCLUSION_POSTGRES_URL is not set: {HOW_TO_START}")


@contextmanager
def kafka_server() -> Iterator[str]:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if servers:
        yield servers
        return
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.0").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    raise InfrastructureMissing(f"Kafka is needed and KAFKA_BOOTSTRAP_SERVERS is not set: {HOW_TO_START}")


def database_url(admin_url: str, name: str) -> str:
    """The asyncpg URL of database ``name`` on the admin URL's server."""
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def create_database(admin_url: str, prefix: str = "t") -> str:
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(_libpq(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(admin_url: str, name: str) -> None:
    import asyncio

    import asyncpg

    conn = await asyncpg.connect(_libpq(admin_url))
    try:
        for attempt in range(20):
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
                # An autovacuum worker (a superuser backend) may be connected; a role without
                # pg_signal_backend cannot end it, but it finishes within moments.
                if attempt == 19:
                    raise
                await asyncio.sleep(0.25)
    finally:
        await conn.close()


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
