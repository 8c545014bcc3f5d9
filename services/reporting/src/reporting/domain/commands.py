"""Commands reporting accepts (plain dataclasses built by the entrypoints).

Reporting changes nothing by HTTP: its one command is the operator's rebuild of the read models.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rebuild:
    """Replay the topics from the start into a fresh generation of the read models and switch
    readers to it once it has caught up (``switch=False`` leaves it built but not active)."""

    switch: bool = True
    keep_previous: int = 1  # retired generations kept for a rollback before they are dropped
