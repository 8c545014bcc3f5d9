"""A service's own subcommands sit beside api/worker/migrate/dlt-replay and show in --help."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from inclusion_kit.runner import ExtraCommand, service_cli
from inclusion_kit.settings import ServiceSettings


def test_extra_commands_get_their_arguments_and_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[list[str]] = []

    def reviews(argv: Sequence[str]) -> int:
        seen.append(list(argv))
        return 3

    def never(_: Any) -> Any:
        raise AssertionError("the standard commands are not reached")

    main = service_cli(
        "svc",
        ServiceSettings,
        never,
        never,
        commands={"reviews": ExtraCommand("emit overdue reviews", reviews)},
    )
    assert main(["reviews", "--loop", "--interval", "60"]) == 3
    assert seen == [["--loop", "--interval", "60"]]
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "reviews" in out and "emit overdue reviews" in out and "dlt-replay" in out
