"""`portal` command: `portal serve [--host H] [--port P]` (settings from PORTAL_* variables)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from inclusion_kit.observability import configure_logging
from portal.config import PortalSettings
from portal.entrypoints.app import create_app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="portal", description="the portal: web pages over the services' APIs"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the pages")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - containers listen on all interfaces
    serve.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    settings = PortalSettings()
    configure_logging(settings.service_name, level=settings.log_level, json_lines=settings.log_json)
    import uvicorn

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None, proxy_headers=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
