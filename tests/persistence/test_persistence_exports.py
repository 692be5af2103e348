"""The persistence package's public names, and the promise that importing it is cheap."""

from __future__ import annotations

import subprocess
import sys

import statemachine_engine.persistence as persistence


def test_all_is_sorted_and_importable() -> None:
    # isort style (ruff RUF022): CONSTANTS, then Classes, then functions
    assert persistence.__all__ == sorted(
        persistence.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n)
    )
    for name in persistence.__all__:
        assert getattr(persistence, name) is not None, name
    assert sorted(dir(persistence)) == sorted(persistence.__all__)


def test_the_sql_layer_imports_neither_trio_nor_attrs() -> None:
    code = (
        "import sys\n"
        "from statemachine_engine.persistence import connect, jobs_sql, records_sql\n"
        "conn = connect(':memory:')\n"
        "jobs_sql.add_job(conn, jobs_sql.NewJob('a', 't'), now=1.0)\n"
        "print(sorted(m for m in ('trio', 'attrs', 'attr') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
