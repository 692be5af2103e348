"""Diagrams of a machine: Mermaid files, ``metadata.json`` and a markdown page.

:func:`generate_diagrams` is pure (the monitor calls it per request); :func:`write_diagrams`
puts the same files in ``<output_dir>/<config_type>/``, the folder the UI looks up by the
``config_type`` machines report (the configuration file's stem).
"""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import Any

from statemachine_engine.config import MachineSpec
from statemachine_engine.tools._layout import Layout, build_layout
from statemachine_engine.tools._markdown import markdown_page
from statemachine_engine.tools._mermaid import (
    entry_states,
    exit_states,
    group_diagram,
    main_diagram,
)

MAIN_FILE = "main.mermaid"
METADATA_FILE = "metadata.json"


def diagram_title(spec: MachineSpec) -> str:
    """The top-level ``name:``, else ``metadata.name``, else the machine name or file stem."""
    meta_name = spec.metadata.get("name")
    return spec.name or (str(meta_name) if meta_name else None) or spec.default_name


def generate_diagrams(spec: MachineSpec) -> dict[str, str]:
    """File name -> content: ``main.mermaid``, one ``<GROUP_ID>.mermaid`` per state group,
    ``metadata.json`` and ``<config_type>.md``. Deterministic for a given spec."""
    layout = build_layout(spec)
    title = diagram_title(spec)
    files: dict[str, str] = {MAIN_FILE: main_diagram(layout, title)}
    group_files: dict[str, str] = {}
    for group, group_id in layout.group_ids.items():
        name = f"{group_id}.mermaid"
        files[name] = group_diagram(layout, group)
        group_files[group] = name
    files[METADATA_FILE] = json.dumps(metadata(layout, title), indent=2) + "\n"
    files[f"{spec.config_type}.md"] = markdown_page(layout, title, files, group_files)
    return files


def metadata(layout: Layout, title: str) -> dict[str, Any]:
    """What the UI needs besides the Mermaid text (keeps the published package's keys)."""
    spec = layout.spec
    diagrams: dict[str, Any] = {
        "main": {
            "file": MAIN_FILE,
            "title": f"{title} Overview",
            "description": (
                "High-level state machine flow with composite states"
                if layout.groups
                else "State machine flow"
            ),
            "composites": list(layout.group_ids.values()),
        }
    }
    for group, group_id in layout.group_ids.items():
        diagrams[group_id] = {
            "file": f"{group_id}.mermaid",
            "title": group,
            "description": f"Detailed view of {group}",
            "states": list(layout.groups[group]),
            "entry_states": entry_states(layout, group),
            "exit_states": exit_states(layout, group),
            "parent": "main",
        }
    return {
        "title": title,
        "machine_name": spec.default_name,
        "config_name": PurePath(spec.source).name if spec.source else None,
        "config_type": spec.config_type,
        "template": spec.template,
        "initial_state": spec.initial_state,
        "final_states": layout.ordered_finals,
        "states": list(layout.states),
        "groups": {g: list(members) for g, members in layout.groups.items()},
        "state_ids": dict(layout.state_ids),
        "group_ids": dict(layout.group_ids),
        "wildcard_id": layout.wildcard_id,
        "diagrams": diagrams,
    }


def write_diagrams(spec: MachineSpec, output_dir: str | Path) -> Path:
    """Write :func:`generate_diagrams` into ``output_dir/<config_type>/``; return that folder.

    Files of earlier runs that are no longer generated (a renamed group) are left alone;
    ``metadata.json`` lists the current ones.
    """
    folder = Path(output_dir) / spec.config_type
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in generate_diagrams(spec).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
