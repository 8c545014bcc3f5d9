"""``inclusion-kit``: catalogue and token tools for developers and CI."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: inclusion-kit {catalog build|check|compat, token} ..."
    if not args or args[0] in ("-h", "--help"):
        print(usage)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in ("catalog", "catalogue"):
        from inclusion_kit.contracts.catalogue import catalogue_main

        return catalogue_main(rest)
    if command == "token":
        from inclusion_kit.auth import token_main

        return token_main(rest)
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
