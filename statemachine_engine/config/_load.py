"""Loading a machine configuration: the public entry points and the stages they run.

YAML (positions kept) -> shapes -> typed model (cattrs) -> defaults -> semantic checks.

Every problem found is collected and reported at once in one :class:`ConfigError`; keys the
model does not know are kept and reported as warnings.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path as FsPath
from typing import Any

import attrs

from statemachine_engine.config._checks import check_semantics
from statemachine_engine.config._issues import Collector, describe
from statemachine_engine.config._models import CONVENTIONAL_FINAL_STATES, MachineSpec
from statemachine_engine.config._shape import shape
from statemachine_engine.config._structure import placed, structure
from statemachine_engine.config._yaml import Positions, comment_state_groups, load_yaml
from statemachine_engine.errors import ConfigError


def load_config(
    path: str | FsPath,
    *,
    actions_dir: str | FsPath | None = None,
    known_actions: Collection[str] | None = None,
) -> MachineSpec:
    """Read and check a machine's YAML file.

    Action types are checked against the built-in actions plus those found in ``actions_dir``
    (or against ``known_actions`` when given). Raises :class:`ConfigError` listing every error.
    """
    file = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {file}", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file: {exc.strerror}", file=file) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"configuration file is not UTF-8 text: {exc}", file=file) from None
    if known_actions is None:
        from statemachine_engine.actions import available_action_types

        known_actions = available_action_types(actions_dir)
    return load_config_text(
        text, file=file, config_type=FsPath(path).stem, known_actions=known_actions
    )


def load_config_text(
    text: str,
    *,
    file: str | None = None,
    config_type: str | None = None,
    known_actions: Collection[str] | None = None,
) -> MachineSpec:
    """Like :func:`load_config`, from YAML text. ``known_actions=None`` skips the type check."""
    data, positions = load_yaml(text, file)
    return build_spec(
        data,
        positions=positions,
        text=text,
        file=file,
        config_type=config_type or (FsPath(file).stem if file else "machine"),
        known_actions=known_actions,
    )


def build_spec(
    data: Any,
    *,
    positions: Positions | None = None,
    text: str | None = None,
    file: str | None = None,
    config_type: str = "machine",
    known_actions: Collection[str] | None = None,
) -> MachineSpec:
    """Check a parsed document and build its :class:`MachineSpec`."""
    # the type is the file's name: bytes of it that are not UTF-8 (surrogates in a str) are
    # written as escapes, as it names the machine's type in the database and its events
    config_type = config_type.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    out = Collector(file, positions or {})
    if not isinstance(data, Mapping):
        out.add((), f"a machine configuration must be a YAML mapping, got {describe(data)}")
        raise ConfigError(out.issues, file=file)

    shaped, extra = shape(data, out)
    spec = structure(shaped, out)
    spec = _complete(spec, data, shaped, text, out, extra, file, config_type)
    check_semantics(spec, out, known_actions, has_initial="initial_state" in data)
    out.issues.sort(key=lambda i: (i.line or 0, i.column or 0))
    if any(i.severity == "error" for i in out.issues):
        raise ConfigError(out.issues, file=file)
    return attrs.evolve(spec, warnings=tuple(out.issues))


def _complete(
    spec: MachineSpec,
    data: Mapping[str, Any],
    shaped: Mapping[str, Any],
    text: str | None,
    out: Collector,
    extra: dict[str, Any],
    file: str | None,
    config_type: str,
) -> MachineSpec:
    """The model with what the YAML leaves out filled in: the ``waiting`` initial state, the
    conventional final states, comment state groups, and each transition action's place."""
    transitions = tuple(
        attrs.evolve(
            t,
            actions=tuple(
                placed(a, ("transitions", t.index, "actions", j), out)
                for j, a in enumerate(t.actions)
            ),
        )
        for t in spec.transitions
    )
    groups = dict(spec.state_groups) or (comment_state_groups(text) if text else {})
    initial = spec.initial_state
    if "initial_state" not in data:
        initial = "waiting"
    final = spec.final_states
    if "final_states" not in shaped:
        named = set(spec.states) | {t.to for t in spec.transitions} | {initial}
        final = frozenset(CONVENTIONAL_FINAL_STATES & named)
    return attrs.evolve(
        spec,
        initial_state=initial,
        transitions=transitions,
        state_groups={g: tuple(s) for g, s in groups.items()},
        final_states=frozenset(final),
        extra=extra,
        source=file,
        config_type=config_type,
    )
