"""Alembic environment for reporting (the URL is passed in by `reporting migrate`).

Alembic owns the control tables only: the read models' generations are created and dropped by the
projector (see adapters/orm.py), so their tables are left out of comparisons.
"""

from typing import Any

from inclusion_kit.db.migrations import run_env
from reporting.adapters.orm import is_generation_table, metadata


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = getattr(obj, "table", None)
    owner = table.name if table is not None else name
    return not is_generation_table(owner) and not is_generation_table(name)


run_env(metadata, include_object=include_object)
