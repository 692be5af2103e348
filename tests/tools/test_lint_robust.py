"""The checker never crashes, and it agrees with the loader about which files load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statemachine_engine.config import load_config, load_config_text
from statemachine_engine.errors import ConfigError
from statemachine_engine.tools import Finding, _lint, lint_paths, lint_yaml

LINT = Path(__file__).parent / "fixtures" / "lint"
#: codes for what the loader itself rejects
LOADER_CODES = frozenset(
    {
        "F001",
        "F002",
        "F003",
        "S000",
        "S001",
        "S002",
        "S003",
        "S004",
        "S005",
        "S009",
        "G001",
        "A001",
        "A002",
    }
)


def assert_agrees(
    findings: tuple[Finding, ...], loads: bool, codes: frozenset[str], name: str = ""
) -> None:
    """A file loads exactly when the checker reports none of the loader's own errors."""
    loader_errors = [f.code for f in findings if f.severity == "error" and f.code in codes]
    if loads:
        assert loader_errors == [], name
    else:
        assert loader_errors, f"{name}: the loader rejects it, the checker found {findings}"


def test_a_failing_check_becomes_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(doc: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(_lint, "check_groups", broken)
    result = lint_paths([LINT / "S003-fail.yaml"])
    codes = [f.code for f in result.findings]
    assert "F004" in codes and "S003" in codes  # the other checks still ran
    [finding] = [f for f in result.findings if f.code == "F004"]
    assert "RuntimeError: boom" in finding.message


def test_broken_files_are_findings(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "scalar.yaml").write_text("just text\n")
    (tmp_path / "syntax.yaml").write_text("states: [a, b\nx: {\n")
    (tmp_path / "tabs.yaml").write_text("states:\n\t- a\n")
    (tmp_path / "binary.yaml").write_bytes(b"\x00\xff\xfe\x00")
    (tmp_path / "folder.yaml").mkdir()
    names = ["empty", "list", "scalar", "syntax", "tabs", "binary", "folder", "missing"]
    result = lint_paths([tmp_path / f"{n}.yaml" for n in names])
    by_file = {Path(f.file).stem: f for f in result.findings}
    assert {n: by_file[n].code for n in names} == {
        "empty": "F003",
        "list": "F003",
        "scalar": "F003",
        "syntax": "F002",
        "tabs": "F002",
        "binary": "F001",
        "folder": "F001",
        "missing": "F001",
    }
    assert by_file["syntax"].line is not None


_names = st.sampled_from(["a", "b", "c", "stopped", "*", "waiting"])
_events = st.sampled_from(["go", "stop", "timeout(1)", "timeout(x)", "error"])
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), _names, st.just("{x.y}"))
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_names, inner, max_size=3)
    ),
    max_leaves=6,
)
_action = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["log", "bash", "send_event", "set_context", "nope", 5])},
        optional={
            "message": _value,
            "command": _value,
            "success": _events,
            "params": _value,
            "target_machine": _names,
            "event_type": _events,
            "key": _names,
            "value": _value,
        },
    ),
    _value,
)
_transition = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "from": st.one_of(_names, st.lists(_names, max_size=2), st.integers()),
            "to": st.one_of(_names, st.none()),
            "event": st.one_of(_events, st.integers()),
            "actions": st.lists(_action, max_size=2),
            "guard": _value,
        },
    ),
    _value,
)
_document = st.fixed_dictionaries(
    {},
    optional={
        "initial_state": st.one_of(_names, _value),
        "states": st.one_of(st.lists(_names, max_size=5), _value),
        "events": st.one_of(
            st.lists(_events, max_size=4), st.dictionaries(_events, _value, max_size=3), _value
        ),
        "transitions": st.one_of(st.lists(_transition, max_size=5), _value),
        "actions": st.one_of(
            st.dictionaries(_names, st.one_of(st.lists(_action, max_size=3), _value), max_size=3),
            _value,
        ),
        "final_states": st.one_of(st.lists(_names, max_size=2), _value),
        "state_groups": st.one_of(
            st.dictionaries(st.sampled_from(["G", "H"]), st.lists(_names, max_size=3)), _value
        ),
        "known_context": _value,
        "template": _value,
        "metadata": _value,
        "extra": _value,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document)
def test_never_raises_and_agrees_with_the_loader(document: dict[str, Any]) -> None:
    text = yaml.safe_dump(document, sort_keys=False)
    result = lint_yaml(text, "fuzz.yaml")
    try:
        load_config_text(text, file="fuzz.yaml", config_type="fuzz", known_actions=None)
        loads = True
    except ConfigError:
        loads = False
    except (AttributeError, TypeError):
        # a loader crash on a malformed value; the checker reports it as S000
        loads = False
    assert_agrees(result.findings, loads, LOADER_CODES - {"A001"})


def test_every_fixture_agrees_with_the_loader() -> None:
    actions = LINT / "actions_ok"
    for path in sorted(LINT.rglob("*.yaml")):
        result = lint_paths([path], actions_dirs=[actions])
        try:
            load_config(path, actions_dir=actions)
            loads = True
        except ConfigError:
            loads = False
        assert_agrees(result.findings, loads, LOADER_CODES, path.name)
