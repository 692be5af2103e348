"""Diagram generation: golden files, the shape of every Mermaid file, ids, metadata, the CLI.

Set SM_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change (then review the
diff).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mermaid_check import read

from statemachine_engine.cli._diagrams import main
from statemachine_engine.config import load_config
from statemachine_engine.tools import base_id, generate_diagrams, write_diagrams

HERE = Path(__file__).parent / "fixtures" / "diagrams"
GOLDEN = HERE / "golden"
CONFIGS = sorted(p.stem for p in HERE.glob("*.yaml"))


def files_of(stem: str) -> dict[str, str]:
    return generate_diagrams(load_config(HERE / f"{stem}.yaml"))


@pytest.mark.parametrize("stem", CONFIGS)
def test_golden(stem: str) -> None:
    files = files_of(stem)
    folder = GOLDEN / stem
    if os.environ.get("SM_UPDATE_GOLDEN"):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
    expected = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
    assert sorted(files) == sorted(expected)
    for name, text in files.items():
        assert text == expected[name], name


def test_golden_set_is_complete() -> None:
    assert sorted(p.name for p in GOLDEN.iterdir()) == CONFIGS


@pytest.mark.parametrize("stem", CONFIGS)
def test_every_mermaid_file_is_well_formed_and_matches_the_metadata(stem: str) -> None:
    files = files_of(stem)
    meta = json.loads(files["metadata.json"])
    ids = meta["state_ids"]
    main_view = read(files["main.mermaid"])
    # every state drawn once, in its group's composite, with its name as label
    for state in meta["states"]:
        node = ids[state]
        assert main_view.nodes[node] == state.replace(":", "#58;").replace('"', "#quot;")
        group = next((g for g, members in meta["groups"].items() if state in members), None)
        assert main_view.parent[node] == (meta["group_ids"][group] if group else None)
    assert main_view.composites == meta["diagrams"]["main"]["composites"]
    assert ("[*]", ids[meta["initial_state"]], "") in main_view.edges
    assert {e[0] for e in main_view.edges if e[1] == "[*]"} == {
        ids[s] for s in meta["final_states"]
    }
    if meta["wildcard_id"]:
        assert main_view.classes[meta["wildcard_id"]] == "wildcard"
    for group, group_id in meta["group_ids"].items():
        entry = meta["diagrams"][group_id]
        assert entry["file"] == f"{group_id}.mermaid" and entry["parent"] == "main"
        assert entry["title"] == group and entry["states"] == meta["groups"][group]
        view = read(files[entry["file"]])
        members = {ids[s] for s in meta["groups"][group]}
        assert members <= set(view.nodes)
        for node in set(view.nodes) - members:
            assert (
                node in meta["group_ids"].values()
                or node == meta["wildcard_id"]
                or (node in ids.values())
            )
        entered = {dst for src, dst, _ in view.edges if dst in members and src not in members}
        assert {ids[s] for s in entry["entry_states"]} == entered  # [*] --> initial included
        left = {src for src, dst, _ in view.edges if src in members and dst not in members}
        assert {ids[s] for s in entry["exit_states"]} <= left  # and final --> [*]


def test_groups_from_the_key() -> None:
    meta = json.loads(files_of("grouped_key")["metadata.json"])
    assert meta["groups"] == {
        "INTAKE": ["received"],
        "PAYMENT": ["charging", "charged"],
        "DELIVERY": ["packing", "shipped", "cancelled"],
    }
    payment = meta["diagrams"]["PAYMENT"]
    assert payment["entry_states"] == ["charging"]
    assert payment["exit_states"] == ["charging", "charged"]


def test_groups_from_comments_drop_the_states_suffix_and_spaces() -> None:
    meta = json.loads(files_of("grouped_comments")["metadata.json"])
    assert meta["group_ids"] == {
        "SUMMARIZING": "SUMMARIZING",
        "FACT CHECKING": "FACTCHECKING",
        "COMPLETED": "COMPLETED",
    }
    assert meta["template"] is True
    assert meta["machine_name"] == "patient_record"
    assert meta["config_type"] == "grouped_comments"


def test_no_groups_means_one_flat_diagram() -> None:
    files = files_of("flat")
    assert sorted(files) == ["flat.md", "main.mermaid", "metadata.json"]
    meta = json.loads(files["metadata.json"])
    assert meta["diagrams"] == {
        "main": {
            "file": "main.mermaid",
            "title": "flat Overview",
            "description": "State machine flow",
            "composites": [],
        }
    }
    assert meta["final_states"] == ["stopped"]  # by the conventional name
    view = read(files["main.mermaid"])
    # the wildcard is one dashed node, not an edge from every state
    assert [e for e in view.edges if e[2] == "stop"] == [("any_state", "stopped", "stop")]
    assert ("waiting", "waiting", "timeout(2.5)") in view.edges


def test_ids_are_stable_and_predictable() -> None:
    meta = json.loads(files_of("odd_names")["metadata.json"])
    assert meta["state_ids"] == {
        "start-here": "start_here",
        "waiting for input": "waiting_for_input",
        "start_here": "start_here_2",
        "state": "s_state",
        "default_route": "s_default_route",
        "2nd try": "s_2nd_try",
        "any_state": "any_state",
        "done": "done",
    }
    # group ids also name files: unique without regard to case, never main/metadata
    assert meta["group_ids"] == {"main": "main_2", "group: two": "group_two", "Main": "Main_3"}
    assert meta["wildcard_id"] == "any_state_2"
    assert files_of("odd_names") == files_of("odd_names")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("waiting", "waiting"),
        ("fact-checking", "fact_checking"),
        ("send mail", "send_mail"),
        ("3rd", "s_3rd"),
        ("", "s_"),
        ("Default", "s_Default"),
        ("note", "s_note"),
        ("classDef", "s_classDef"),
        ("état", "_tat"),
    ],
)
def test_base_id(name: str, expected: str) -> None:
    assert base_id(name) == expected


def test_base_id_of_a_group_drops_spaces() -> None:
    assert base_id("MAIN LOOP", group=True) == "MAINLOOP"


def test_labels_with_colons_semicolons_and_quotes_are_escaped() -> None:
    view = read(files_of("odd_names")["main.mermaid"])
    labels = {e[2] for e in view.edges}
    assert {"go#58;now", "a#59;b", "#35;tag"} <= labels


def test_markdown_page() -> None:
    page = files_of("grouped_key")["grouped_key.md"]
    assert page.startswith("# Order pipeline\n\nTakes an order through payment and shipping.\n")
    assert "```mermaid\nstateDiagram-v2\n" in page
    assert "| `packing` | DELIVERY | `bash` | - |" in page
    assert "| `cancel` | `received`, `charging` | `cancelled` |" in page


def test_write_diagrams(tmp_path: Path) -> None:
    spec = load_config(HERE / "grouped_key.yaml")
    folder = write_diagrams(spec, tmp_path / "out")
    assert folder == tmp_path / "out" / "grouped_key"
    assert sorted(p.name for p in folder.iterdir()) == sorted(generate_diagrams(spec))


# --- the command -----------------------------------------------------------------------------


def test_cli_writes_to_the_default_folder_named_after_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([str(HERE / "grouped_key.yaml"), str(HERE / "flat.yaml")]) == 0
    folder = tmp_path / "docs" / "fsm-diagrams" / "grouped_key"
    assert (folder / "metadata.json").is_file() and (folder / "DELIVERY.mermaid").is_file()
    assert (tmp_path / "docs" / "fsm-diagrams" / "flat" / "flat.md").is_file()
    assert "grouped_key.yaml: wrote docs/fsm-diagrams/grouped_key" in capsys.readouterr().out


def test_cli_format_flags_and_markdown_path(tmp_path: Path) -> None:
    config = str(HERE / "flat.yaml")
    assert main([config, "--output-dir", str(tmp_path / "a"), "--new-format-only"]) == 0
    assert sorted(p.name for p in (tmp_path / "a" / "flat").iterdir()) == [
        "main.mermaid",
        "metadata.json",
    ]
    assert main([config, "--output-dir", str(tmp_path / "b"), "--old-format-only"]) == 0
    assert [p.name for p in (tmp_path / "b" / "flat").iterdir()] == ["flat.md"]
    page = tmp_path / "c" / "page.md"
    assert main([config, str(page), "--output-dir", str(tmp_path / "c")]) == 0
    assert page.read_text().startswith("# flat\n")
    assert not (tmp_path / "c" / "flat" / "flat.md").exists()


def test_cli_reports_broken_configs_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text("initial_state: a\nstates: [b]\n")
    (tmp_path / "syntax.yaml").write_text("states: [a\n")
    argv = [str(tmp_path / n) for n in ("bad.yaml", "syntax.yaml", "missing.yaml")]
    assert main([*argv, str(HERE / "flat.yaml"), "--output-dir", str(tmp_path / "o")]) == 1
    out, err = capsys.readouterr()
    assert "initial state 'a' is not declared" in err
    assert "YAML syntax error" in err
    assert "missing.yaml: cannot read" in err
    assert "Traceback" not in out + err
    assert (tmp_path / "o" / "flat" / "main.mermaid").is_file()  # the good one is still drawn


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["a.yaml", "b.yaml", "page.md"])
    assert exc.value.code == 2
    assert "single CONFIG" in capsys.readouterr().err
