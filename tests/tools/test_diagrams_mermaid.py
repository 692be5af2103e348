"""Every generated diagram parses with the UI's own Mermaid, and means what the tool intended.

Runs Mermaid's state-diagram parser under node (installed with the UI's npm assets by
``make test``; no browser needed). A browser rendering test belongs to the monitor.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from statemachine_engine.config import load_config, load_config_text
from statemachine_engine.tools import generate_diagrams

HERE = Path(__file__).parent
MERMAID = HERE.parents[1] / "statemachine_engine" / "monitor" / "ui" / "node_modules" / "mermaid"


def parse_all(texts: list[str]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None or not MERMAID.is_dir():
        pytest.fail("needs node and the UI's npm packages: run `make ui-assets`")
    proc = subprocess.run(
        [node, str(HERE / "mermaid_parse.mjs"), str(MERMAID)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    return results


@pytest.mark.slow
def test_generated_diagrams_parse_with_mermaid() -> None:
    cases: list[tuple[str, str, dict[str, Any], str]] = []
    for config in sorted((HERE / "fixtures" / "diagrams").glob("*.yaml")):
        files = generate_diagrams(load_config(config))
        meta = json.loads(files["metadata.json"])
        cases += [(config.stem, n, meta, t) for n, t in files.items() if n.endswith(".mermaid")]
    results = parse_all([text for *_, text in cases])
    for (stem, name, meta, _), result in zip(cases, results, strict=True):
        assert result["ok"], f"{stem}/{name}: {result.get('error')}"
        if name != "main.mermaid":
            continue
        parents = {n[0]: n[1] for n in result["nodes"]}
        ids = meta["state_ids"]
        for group, members in meta["groups"].items():
            for state in members:
                # edges at the top level do not pull grouped states out of their group
                assert parents[ids[state]] == meta["group_ids"][group], (stem, state)
        edges = {(e[0], e[1]) for e in result["edges"]}
        assert ("root_start", ids[meta["initial_state"]]) in edges


@pytest.mark.slow
def test_the_parser_harness_rejects_bad_diagrams() -> None:
    bad = ["default --> b", "a-b --> c", 'state "x"y" as z']
    results = parse_all([f"stateDiagram-v2\n    {line}\n" for line in bad])
    assert [r["ok"] for r in results] == [False, False, False]
    # a raw ";" in a label does not fail: it silently adds stray states, hence the escaping
    [stray] = parse_all(["stateDiagram-v2\n    a --> b : x; y\n"])
    assert [n[0] for n in stray["nodes"]] == ["a", "b", ";", "y"]


def test_the_self_loops_of_a_state_are_one_arrow_with_an_event_per_line() -> None:
    # Mermaid draws only the last of several loops of one node: all of them must show
    spec = load_config_text(
        """
initial_state: waiting
states: [waiting, working]
transitions:
  - {from: waiting, to: waiting, event: no_jobs}
  - {from: waiting, to: working, event: new_job}
  - {from: waiting, to: waiting, event: "timeout(5)"}
  - {from: working, to: waiting, event: job_done}
  - {from: working, to: working, event: progress}
"""
    )
    main = generate_diagrams(spec)["main.mermaid"]
    arrows = [line.strip() for line in main.splitlines() if "-->" in line]
    assert arrows == [
        "[*] --> waiting",
        "waiting --> waiting : no_jobs<br>timeout(5)",
        "waiting --> working : new_job",
        "working --> waiting : job_done",
        "working --> working : progress",
    ]
    [result] = parse_all([main])
    assert result["ok"], result.get("error")
    loops = [e for e in result["edges"] if e[0] == e[1] == "waiting"]
    assert [e[2] for e in loops] == ["no_jobs<br>timeout(5)"]
