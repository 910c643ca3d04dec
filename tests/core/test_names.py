"""Hostile run and step names are refused or encoded; nothing is written outside the workspace."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_steps import Echo

from tango_tui.core._errors import InvalidNameError
from tango_tui.core._local import LocalWorkspace
from tango_tui.core._names import (
    MAX_LINK_BYTES,
    decode_step_name,
    encode_step_name,
    validate_run_name,
)

HOSTILE_RUN_NAMES = [
    "",
    ".",
    "..",
    "../escape",
    "a/../../escape",
    "/etc/passwd",
    "a/b",
    "a\\b",
    ".hidden",
    "nul\0byte",
    "new\nline",
    "tab\there",
    "esc\x1b[31m",
    "del\x7f",
    "c1\x85",
    "x" * 1000,
    "é" * 150,  # 150 characters but 300 bytes
    "\ud800lone-surrogate",
]

HOSTILE_STEP_NAMES = [
    "..",
    ".",
    "../../../escape",
    "/etc/passwd",
    "a/b/c",
    "a\\b",
    ".hidden",
    "run.json",
    "out.log",
    "steps",
    "new\nline\x1b[2J",
    "nul\0byte",
    "100%",
    "%2e%2e%2f",
    "x" * 1000,
    "ü/" * 300,
]


def _snapshot(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.mark.parametrize("name", HOSTILE_RUN_NAMES, ids=lambda n: repr(n)[:30])
def test_hostile_run_names_are_refused(tmp_path: Path, name: str) -> None:
    ws_dir = tmp_path / "ws"
    ws = LocalWorkspace(ws_dir)
    before = _snapshot(tmp_path)
    with pytest.raises(InvalidNameError):
        ws.register_run([Echo(value=1, step_name="a")], name=name)
    # Nothing was created anywhere: not outside the workspace, not inside it either.
    assert _snapshot(tmp_path) == before
    assert not (tmp_path / "escape").exists()
    assert list((ws_dir / "runs").iterdir()) == []


@pytest.mark.parametrize("name", ["fancy-llama", "run 1", "été_2024", "a.b", "x" * 200, "日本語"])
def test_reasonable_run_names_are_accepted(tmp_path: Path, name: str) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    run = ws.register_run([Echo(value=1, step_name="a")], name=name)
    assert run.name == name
    assert ws.registered_run(name).name == name
    assert validate_run_name(name) == name


@pytest.mark.parametrize("name", HOSTILE_STEP_NAMES, ids=lambda n: repr(n)[:30])
def test_hostile_step_names_are_encoded_inside_the_run(tmp_path: Path, name: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    ws_dir = outside / "ws"
    ws = LocalWorkspace(ws_dir)
    step = Echo(value=name, step_name=name)
    run = ws.register_run([step], name="r")
    run_dir = ws_dir / "runs" / "r"
    links = [p for p in run_dir.iterdir() if p.is_symlink()]
    assert len(links) == 1
    link = links[0]
    assert link.parent == run_dir  # one path component, in the run directory
    assert os.readlink(link) == f"../../cache/{step.unique_id}"
    assert len(link.name.encode()) <= MAX_LINK_BYTES
    assert all(ord(c) >= 0x20 and c not in "/\\" for c in link.name)
    assert not link.name.startswith(".")
    # The run's own files were not displaced by a step called like them.
    assert (run_dir / "run.json").is_file()
    # The real name survives in the record.
    again = ws.registered_run("r")
    assert list(again.steps) == [name]
    assert again.steps[name].unique_id == step.unique_id
    assert run.steps[name].unique_id == step.unique_id
    # Nothing appeared outside the workspace directory.
    assert sorted(p.name for p in outside.iterdir()) == ["ws"]


def test_step_name_encoding_is_reversible_and_injective() -> None:
    names = ["a", "a/b", "a%2Fb", ".x", "%2Ex", "run.json", "%72un.json", "new\nline", "é"]
    encoded = [encode_step_name(n) for n in names]
    assert len(set(encoded)) == len(names)
    assert [decode_step_name(e) for e in encoded] == names


def test_long_step_names_are_cut_with_a_distinguishing_hash() -> None:
    a, b = "x" * 999 + "a", "x" * 999 + "b"
    ea, eb = encode_step_name(a), encode_step_name(b)
    assert ea != eb
    assert len(ea.encode()) <= MAX_LINK_BYTES and len(eb.encode()) <= MAX_LINK_BYTES


def test_empty_step_name_is_refused() -> None:
    with pytest.raises(InvalidNameError):
        encode_step_name("")


@pytest.mark.parametrize("name", ["../x", "/etc", ".", "", "a/b"])
def test_lookups_with_hostile_names_do_not_escape(tmp_path: Path, name: str) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    with pytest.raises(KeyError):
        ws.registered_run(name)
    with pytest.raises(KeyError):
        ws.step_info(name)
    with pytest.raises(KeyError):
        ws.remove_step(name)
    assert ws.step_progress(name) is None


def test_hostile_run_name_for_logs_is_refused(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    with pytest.raises(InvalidNameError):
        ws.capture_logs_for_run("../../escape")
    step = Echo(value=1, cache_results=False)
    with pytest.raises(InvalidNameError), ws.step_log_context(step, "../../escape"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ws"]


class _BadVersion(Echo):
    VERSION = "1/../../escape"


def test_unique_id_that_is_not_a_file_name_is_refused(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = _BadVersion(value=1, step_name="bad")
    if "/" not in step.unique_id:
        pytest.skip("Step sanitises VERSION itself")
    before = _snapshot(tmp_path)
    with pytest.raises(InvalidNameError):
        ws.register_run([step], name="r")
    with pytest.raises(InvalidNameError):
        ws.step_starting(step)
    with pytest.raises(InvalidNameError):
        ws.work_dir(step)
    assert _snapshot(tmp_path) == before
