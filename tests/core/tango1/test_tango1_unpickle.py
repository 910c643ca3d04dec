"""The restricted unpickler: plain data and Tango's records only; code is refused, never run."""

from __future__ import annotations

import builtins
import os
import pickle
import sqlite3
import subprocess
import sys
import types
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import pytest

from tango_tui.core import StepState, UnsafePickleError
from tango_tui.core.tango1 import StandIn, TangoWorkspace, restricted_loads
from tango_tui.core.tango1._convert import to_step_info


class _Payload:
    """Pickles as ``func(*args)``: what an attacker would plant."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _global_call(module: str, name: str) -> bytes:
    """A protocol-4 pickle calling ``module.name()`` (STACK_GLOBAL, EMPTY_TUPLE, REDUCE)."""

    def short(text: str) -> bytes:
        data = text.encode()
        return b"\x8c" + bytes([len(data)]) + data

    return b"\x80\x04" + short(module) + short(name) + b"\x93)R."


def _payloads(marker: Path) -> dict[str, bytes]:
    touch = f"open({str(marker)!r}, 'w').write('pwned')"
    return {
        "posix.system": pickle.dumps(_Payload(os.system, f"touch {marker}")),
        "subprocess.Popen": pickle.dumps(_Payload(subprocess.Popen, ["touch", str(marker)])),
        "builtins.eval": pickle.dumps(_Payload(builtins.eval, touch)),
        "builtins.exec": pickle.dumps(_Payload(builtins.exec, touch)),
        # The same payloads in older protocols, and a global smuggled as a dotted attribute walk.
        "posix.system:0": pickle.dumps(_Payload(os.system, f"touch {marker}"), protocol=0),
        "builtins.getattr": pickle.dumps(_Payload(getattr, int, "__subclasses__")),
        "dill._dill._create_type": _global_call("dill._dill", "_create_type"),
        "builtins.object.__subclasses__": _global_call("builtins", "object.__subclasses__"),
        "os.system (nested in a dict)": pickle.dumps(
            {"config": {"x": [_Payload(os.system, f"touch {marker}")]}}
        ),
    }


def test_a_payload_is_real_when_loaded_unsafely(tmp_path: Path) -> None:
    # Control: the plain pickle module does run it, so the refusals below mean something.
    marker = tmp_path / "control"
    blob = _payloads(marker)["builtins.exec"]
    subprocess.run(
        [sys.executable, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"],
        input=blob,
        check=True,
    )
    assert marker.exists()


@pytest.mark.parametrize("name", list(_payloads(Path("x"))))
def test_malicious_pickles_are_refused_and_not_executed(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "marker"
    blob = _payloads(marker)[name]
    with pytest.raises(UnsafePickleError) as err:
        restricted_loads(blob, path=tmp_path / "stepinfo.sqlite", key="Evil-1")
    message = str(err.value)
    assert str(tmp_path / "stepinfo.sqlite") in message and "'Evil-1'" in message
    assert "refused global" in message
    assert not marker.exists()


def test_persistent_ids_are_refused() -> None:
    with pytest.raises(UnsafePickleError, match="persistent id"):
        restricted_loads(b"\x80\x04\x8c\x03abc\x94Q.")


@pytest.fixture
def fake_tango(monkeypatch: pytest.MonkeyPatch):
    """Classes that pickle under Tango's names, as ai2-tango's own would."""
    module = types.ModuleType("tango.step_info")
    pkg = types.ModuleType("tango")

    @dataclass
    class GitMetadata:
        commit: str | None = None
        remote: str | None = None

    @dataclass
    class PlatformMetadata:
        host: str = "h"
        user: str = "u"
        operating_system: str = "Linux"
        cpu_count: int | None = 8

    @dataclass
    class EnvironmentMetadata:
        python: str = "3.13.0"
        executable: object = None
        command: str = "tango run"
        root: object = None
        packages: list | None = None
        git: GitMetadata | None = None

    @dataclass
    class StepInfo:
        unique_id: str
        step_class_name: str
        dependencies: set = field(default_factory=set)
        cacheable: bool = True
        step_name: str | None = None
        start_time: datetime | None = None
        end_time: datetime | None = None
        error: str | None = None
        config: dict | None = None
        platform: PlatformMetadata = field(default_factory=PlatformMetadata)
        environment: EnvironmentMetadata = field(default_factory=EnvironmentMetadata)

    for cls in (GitMetadata, PlatformMetadata, EnvironmentMetadata, StepInfo):
        cls.__module__ = "tango.step_info"
        cls.__qualname__ = cls.__name__
        setattr(module, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, "tango", pkg)
    monkeypatch.setitem(sys.modules, "tango.step_info", module)
    return module


@pytest.mark.parametrize("protocol", [0, 1, 2, 4, 5])
def test_tango_records_in_every_protocol(fake_tango, protocol: int) -> None:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    info = fake_tango.StepInfo(
        "Train-abc",
        "Train",
        {"Data-1"},
        True,
        "train",
        start,
        start + timedelta(seconds=3),
        None,
        {"lr": 0.1, "layers": (1, 2), "tags": frozenset({"a"})},
        environment=fake_tango.EnvironmentMetadata(
            executable=PurePosixPath("/usr/bin/python"),
            packages=[("torch", "2.0")],
            git=fake_tango.GitMetadata("abc123", "git@x"),
        ),
    )
    raw = restricted_loads(pickle.dumps(info, protocol=protocol), key="Train-abc")
    assert isinstance(raw, StandIn) and raw.tango_class == "tango.step_info.StepInfo"
    ours = to_step_info(raw, "Train-abc")
    assert ours.state == StepState.COMPLETED and ours.dependencies == {"Data-1"}
    assert ours.start_time == start and ours.duration == timedelta(seconds=3)
    assert ours.config == {"lr": 0.1, "layers": [1, 2], "tags": ["a"]}
    assert ours.environment is not None and ours.environment.executable == "/usr/bin/python"
    assert ours.environment.packages == {"torch": "2.0"} and ours.environment.git.commit == "abc123"
    assert ours.platform is not None and ours.platform.cpu_count == 8


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_pytz_utc_and_python313_paths(monkeypatch: pytest.MonkeyPatch, protocol: int) -> None:
    # Stand-ins named like pytz's UTC and Python 3.13's pathlib._local.PosixPath, pickled by the
    # real pickle module, so the bytes are what those libraries produce.
    from datetime import tzinfo

    pytz = types.ModuleType("pytz")
    local = types.ModuleType("pathlib._local")

    class _UTC(tzinfo):
        def utcoffset(self, dt):
            return timedelta(0)

        def __reduce__(self):
            return _UTC, ()

    class PosixPath:
        def __init__(self, *parts):
            self.parts = parts

        def __reduce__(self):
            return PosixPath, self.parts

    _UTC.__module__, PosixPath.__module__ = "pytz", "pathlib._local"
    _UTC.__qualname__, PosixPath.__qualname__ = "_UTC", "PosixPath"
    pytz._UTC, local.PosixPath = _UTC, PosixPath
    monkeypatch.setitem(sys.modules, "pytz", pytz)
    monkeypatch.setitem(sys.modules, "pathlib._local", local)
    when = datetime(2026, 11, 29, 6, 24, 27, 510027, tzinfo=_UTC())
    blob = pickle.dumps({"when": when, "path": PosixPath("/", "tmp", "x")}, protocol=protocol)
    monkeypatch.delitem(sys.modules, "pytz")
    monkeypatch.delitem(sys.modules, "pathlib._local")
    value = restricted_loads(blob)
    assert value["when"] == datetime(2026, 11, 29, 6, 24, 27, 510027, tzinfo=UTC)
    assert value["when"].tzinfo is UTC
    assert value["path"] == "/tmp/x"
    assert "pytz" not in sys.modules


def test_garbage_is_an_unpickling_error_not_a_crash() -> None:
    for blob in (b"", b"\x00garbage", b"\x80\x05\x95", os.urandom(64), b"not a pickle at all"):
        with pytest.raises((pickle.UnpicklingError, UnsafePickleError)):
            restricted_loads(blob, key="k")


def test_planted_rows_are_skipped_and_the_others_still_read(tango_ws: Path) -> None:
    marker = tango_ws.parent / "marker"
    payloads = _payloads(marker)
    db = sqlite3.connect(tango_ws / "stepinfo.sqlite")
    with db:
        for i, blob in enumerate(payloads.values()):
            db.execute("INSERT INTO unnamed VALUES (?, ?)", (f"Evil-{i}", blob))
        db.execute("INSERT INTO unnamed VALUES (?, ?)", ("Garbage-1", b"\x80\x05garbage"))
        db.execute("INSERT INTO unnamed VALUES (?, ?)", ("NotAStep-1", pickle.dumps({"a": 1})))
    db.close()
    ws = TangoWorkspace(tango_ws)
    infos = ws.all_step_infos()
    assert len(infos) == 13  # every real record
    assert ws.registered_run("ok-run").status.value == "completed"
    problems = {p.key: p.message for p in ws.problems}
    assert set(problems) == {f"Evil-{i}" for i in range(len(payloads))} | {
        "Garbage-1",
        "NotAStep-1",
    }
    assert "refused global posix.system" in problems["Evil-0"]
    assert "refused global subprocess.Popen" in problems["Evil-1"]
    assert "unreadable record" in problems["Garbage-1"]
    assert not marker.exists()
    with pytest.raises(KeyError):
        ws.step_info("Evil-0")


def _call(module: str, name: str, *args: str) -> bytes:
    """A protocol-4 pickle calling ``module.name(*args)`` with string arguments."""

    def short(text: str) -> bytes:
        data = text.encode()
        return b"\x8c" + bytes([len(data)]) + data

    return (
        b"\x80\x04"
        + short(module)
        + short(name)
        + b"\x93("
        + b"".join(short(a) for a in args)
        + b"tR."
    )


def test_data_helpers_are_checked_too() -> None:
    assert restricted_loads(_call("dill._dill", "_load_type", "set")) is set
    assert restricted_loads(_call("_codecs", "encode", "abc", "latin1")) == b"abc"
    for blob, refused in [
        (
            _call("dill._dill", "_load_type", "FunctionType"),
            "dill._dill._load_type('FunctionType')",
        ),
        (_call("dill._dill", "_load_type", "CodeType"), "dill._dill._load_type('CodeType')"),
        (_call("_codecs", "encode", "abc", "rot13"), "_codecs.encode(..., 'rot13')"),
        (_call("dill._dill", "_create_function"), "dill._dill._create_function"),
        (_call("dill._dill", "_import_module", "os"), "dill._dill._import_module"),
        (_call("copyreg", "_reconstructor", "x", "y", "z"), "copyreg._reconstructor"),
    ]:
        with pytest.raises(
            UnsafePickleError, match=refused.replace("(", r"\(").replace(")", r"\)")
        ):
            restricted_loads(blob, key="k")


def test_version_1_json_records(tango_ws: Path, tmp_path: Path) -> None:
    ws_dir = tmp_path / "v1json"
    step = ws_dir / "cache" / "Old-1"
    step.mkdir(parents=True)
    (step / "stepinfo.json").write_text(
        '{"unique_id": "Old-1", "step_class_name": "Old", "step_name": "old", "dependencies": [],'
        ' "start_time": "2021-05-01T10:00:00+00:00", "end_time": "2021-05-01T10:01:00+00:00",'
        ' "error": null, "result_location": "/x"}'
    )
    ws = TangoWorkspace(ws_dir)
    info = ws.step_info("Old-1")
    assert info.state == StepState.COMPLETED and info.duration == timedelta(minutes=1)


def test_shared_subtree_bomb_is_copied_boundedly() -> None:
    bomb: list = []
    for _ in range(60):  # 2**60 paths through 60 shared lists: a naive walk never ends
        bomb = [bomb, bomb]
    blob = pickle.dumps(
        {
            "unique_id": "Bomb-1",
            "step_class_name": "Bomb",
            "step_name": bomb,
            "config": {"x": bomb},
            "metadata": {"y": bomb},
        }
    )
    info = to_step_info(restricted_loads(blob), "Bomb-1")
    assert info.step_name == "<list>"
    assert "…" in repr(info.config) and "…" in repr(info.metadata)


def test_bytearray_is_refused() -> None:
    with pytest.raises(UnsafePickleError, match="refused global __builtin__.bytearray"):
        restricted_loads(pickle.dumps(bytearray(b"x"), protocol=2))


def test_a_record_cannot_shadow_the_stand_ins_methods(fake_tango) -> None:
    info = fake_tango.StepInfo("S-1", "S")
    info.__dict__.update(
        {"get": "shadow", "__setstate__": "shadow", "tango_class": "os.system", "fields": 1}
    )
    raw = restricted_loads(pickle.dumps(info, protocol=2))
    assert type(raw).tango_class == "tango.step_info.StepInfo"
    assert raw.get("unique_id") == "S-1" and raw.get("get") == "shadow"
    assert to_step_info(raw, "S-1").unique_id == "S-1"
    assert "shadow" not in repr(raw)
