"""Codes of conduct from YAML: the packaged defaults, or an LA's own file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from enforcement.domain.policy import CodeOfConduct, PolicyBook, ThresholdKind, code_from_mapping


def load_policy_book(path: str | None = None, *, nti_weeks: int | None = None) -> PolicyBook:
    """Every version in the file; ``nti_weeks`` sets the LA's notice-to-improve period on the
    versions that use one (the framework allows 3 to 6 weeks)."""
    if path is None:
        text = resources.files("enforcement").joinpath("data", "codes_of_conduct.yaml").read_text("utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data: Any = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("codes"), list):
        raise ValueError("a codes-of-conduct file holds a list under 'codes'")
    codes: list[CodeOfConduct] = [code_from_mapping(entry) for entry in data["codes"]]
    if nti_weeks is not None:
        codes = [
            c.with_overrides(nti_weeks=nti_weeks)
            if c.nti_weeks is not None and c.threshold is ThresholdKind.ROLLING_SESSIONS
            else c
            for c in codes
        ]
    return PolicyBook(codes)
