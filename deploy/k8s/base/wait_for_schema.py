"""Init container of every api and worker pod: wait until the service's database schema is at the
Alembic head of the code in this image, then exit 0 (exit 1 after WAIT_FOR_SCHEMA_TIMEOUT seconds).

The schema is moved by the release's migrate Job; the app itself refuses to start on a schema that
is behind, so without this wait a new pod would crash-loop until the Job finished. It runs in the
service's own image (SERVICE is set there, e.g. ``referral-api``) with the service's environment,
and asks the service's composition root, so it checks exactly what the app checks on start.
Nothing it prints contains the database URL.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time


async def wait_for_schema(service: str, timeout: float, interval: float) -> bool:
    bootstrap = importlib.import_module(f"{service.replace('-', '_')}.bootstrap").bootstrap
    deadline = time.monotonic() + timeout
    while True:
        kernel = bootstrap()
        try:
            await kernel.check_schema()
        except Exception as exc:
            reason = (
                f"{type(exc).__name__}: {exc}"
                if type(exc).__name__ == "StaleSchemaError"
                else type(exc).__name__
            )
            if time.monotonic() >= deadline:
                print(
                    f"{service}: schema not at head after {timeout:.0f}s ({reason})",
                    file=sys.stderr,
                    flush=True,
                )
                return False
            print(f"{service}: waiting for the migrate job ({reason})", file=sys.stderr, flush=True)
        else:
            print(f"{service}: schema is at head", flush=True)
            return True
        finally:
            await kernel.dispose()
        await asyncio.sleep(interval)


def main() -> int:
    service = os.environ.get("SERVICE")
    if not service:
        print("wait_for_schema: SERVICE is not set (the service images set it)", file=sys.stderr)
        return 2
    timeout = float(os.environ.get("WAIT_FOR_SCHEMA_TIMEOUT", "900"))
    interval = float(os.environ.get("WAIT_FOR_SCHEMA_INTERVAL", "5"))
    return 0 if asyncio.run(wait_for_schema(service, timeout, interval)) else 1


if __name__ == "__main__":
    sys.exit(main())
