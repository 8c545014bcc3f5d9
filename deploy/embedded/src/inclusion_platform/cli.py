"""`inclusion`: the platform's local command (`inclusion up`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from inclusion_kit.calendar import london_today
from inclusion_kit.observability import configure_logging
from inclusion_kit.settings import AuthSettings
from inclusion_platform.demo import SIZES


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="inclusion", description="Inclusion and Attendance Service platform"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run every service in one process (SQLite files, embedded bus)")
    up.add_argument("--data-dir", type=Path, default=Path("var/local"), help="where the SQLite files live")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8001, help="first port; services take consecutive ports")
    up.add_argument("--log-level", default="WARNING")
    up.add_argument(
        "--demo",
        choices=["none", *SIZES],
        default="small",
        help="load the demo county on the first start (an empty data directory); default small",
    )
    demo = sub.add_parser(
        "demo", help="send the demo county through a running platform's public APIs (embedded or deployed)"
    )
    demo.add_argument("--size", choices=list(SIZES), default="small")
    demo.add_argument("--seed", type=int, default=886)
    target = demo.add_mutually_exclusive_group()
    target.add_argument("--url", help="one base URL for every service (the gateway of a deployment)")
    target.add_argument(
        "--port", type=int, default=8001, help="first port of `inclusion up` (services on consecutive ports)"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument(
        "--jwt-secret",
        default=os.environ.get("INCLUSION_DEMO_JWT_SECRET"),
        help="the deployment's HS256 signing key (env INCLUSION_DEMO_JWT_SECRET); default: the local key",
    )
    demo.add_argument("--jwt-issuer", default=os.environ.get("JWT_ISSUER"))
    demo.add_argument("--jwt-audience", default=os.environ.get("JWT_AUDIENCE"))
    docs = sub.add_parser("docs", help="write the API reference in docs/api/ from the services' OpenAPI")
    docs.add_argument(
        "--check", action="store_true", help="fail if docs/api/ differs from what would be written"
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    if args.command == "docs":
        from inclusion_platform import api_docs

        differ = api_docs.write(check=args.check)
        if args.check and differ:
            print(f"docs/api is out of date ({', '.join(differ)}): run `inclusion docs`", file=sys.stderr)
            return 1
        print("docs/api: " + ("up to date" if not differ else f"wrote {', '.join(differ)}"))
        return 0
    configure_logging("inclusion", level=args.log_level, json_lines=False)
    from inclusion_platform.embedded import run

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(
            args.data_dir.resolve(),
            args.host,
            args.port,
            stop,
            announce=lambda text: print(text, flush=True),
            demo=None if args.demo == "none" else SIZES[args.demo],
        )

    asyncio.run(go())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from inclusion_platform.demo import DemoCounty, DemoLoader, Endpoints, Progress, demo_tokens

    auth = AuthSettings()
    if args.jwt_secret:
        auth = AuthSettings(jwt_secret=SecretStr(args.jwt_secret))
    if args.jwt_issuer:
        auth.issuer = args.jwt_issuer
    if args.jwt_audience:
        auth.audience = args.jwt_audience
    if args.url:
        endpoints = Endpoints.gateway(args.url.rstrip("/"))
    else:
        bases = [f"http://{args.host}:{args.port + i}" for i in range(5)]
        endpoints = Endpoints(*bases)
    county = DemoCounty(SIZES[args.size], seed=args.seed, today=london_today())
    print(
        f"demo county: {len(county.schools)} schools, {county.total_pupils} pupils, "
        f"{len(county.school_days())} school days of registers",
        file=sys.stderr,
    )
    report = DemoLoader(county, endpoints, demo_tokens(auth), progress=Progress()).run()
    print(
        f"sent: {report.schools} schools, {report.pupils} pupils, {report.marks_accepted} marks accepted "
        f"({report.marks_unchanged} unchanged), {report.referrals} referrals, "
        f"{report.admissions} admissions, {report.exclusions} exclusions, "
        f"{report.penalty_requests} penalty requests "
        f"({report.notices_issued} notices issued)",
        file=sys.stderr,
    )
    for problem in report.problems[:20]:
        print(f"  problem: {problem}", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
