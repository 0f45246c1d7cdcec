"""A stage in a forked child: its result, its errors, Ctrl-C and kill -9, and outputs identical to one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctxeng.core import forked
from ctxeng.core.errors import CtxengError
from ctxeng.core.forked import Gate, fork_stage, parallel_allowed
from ctxeng.core.fsio import LockBusy
from ctxeng.core.generation import verify
from ctxeng.core.workdir import generation, generation_dir
from ctxeng.pipeline.build import build
from tests.extras import unavailable
from tests.gitrepo import GitRepo


@pytest.mark.parametrize(
    ("cores", "busy", "allowed"), [(1, 0, False), (2, 0, True), (2, 1, False), (4, 2, True), (8, 7, False)]
)
def test_a_stage_forks_only_when_a_core_is_idle(
    monkeypatch: pytest.MonkeyPatch, cores: int, busy: int, allowed: bool
) -> None:
    """The decision alone, for a given core count and number of other runnable tasks."""
    monkeypatch.delenv("CTXENG_PARALLEL", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr(forked, "busy_cores", lambda: busy)
    assert parallel_allowed() is allowed
    monkeypatch.setenv("CTXENG_PARALLEL", "0")
    assert parallel_allowed() is False


def test_busy_cores_counts_a_busy_process_of_this_machine() -> None:
    idle = forked.busy_cores()
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert max(forked.busy_cores() for _ in range(20)) >= 1 and idle >= 0
    finally:
        spinner.kill()
        spinner.wait()


def test_the_child_returns_its_result_and_its_own_usage() -> None:
    job = fork_stage(lambda: {"pid": os.getpid(), "rows": [1, 2, 3]})
    result = job.result()
    assert result["rows"] == [1, 2, 3]
    assert result["pid"] != os.getpid()
    assert set(job.usage) == {"wall_s", "cpu_s", "peak_rss_mb"}
    assert job.usage["peak_rss_mb"] > 0


def test_a_child_that_returned_is_reaped_after_its_result() -> None:
    job = fork_stage(lambda: 7)
    assert job.result() == 7  # without waiting for the child's exit (a large one unmaps for ~20 ms)
    job.reap()
    with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
        os.waitpid(-1, os.WNOHANG)
    unreaped = fork_stage(lambda: 8)
    assert unreaped.result() == 8
    deadline = time.monotonic() + 10
    while True:  # reaped by its thread all the same when nobody asks
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        assert time.monotonic() < deadline, "the child was never reaped"
        time.sleep(0.01)


def test_the_child_waits_at_the_gate_until_the_parent_opens_it() -> None:
    gate = Gate()

    def after_gate() -> float:
        gate.wait()
        return time.monotonic()

    job = fork_stage(after_gate)
    opened = time.monotonic() + 0.5
    time.sleep(0.5)
    gate.open()
    assert job.result() >= opened - 0.01
    gate.close()  # idempotent: the descriptors are not closed twice


def test_a_gate_closed_without_opening_fails_the_child_instead_of_hanging() -> None:
    gate = Gate()
    job = fork_stage(gate.wait)
    gate.close()
    with pytest.raises(RuntimeError, match="parent process ended"):
        job.result()


def test_cancel_after_an_interrupted_wait_closes_no_descriptor_twice(tmp_path: Path) -> None:
    job = fork_stage(lambda: time.sleep(5))

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.2)  # Ctrl-C while the parent waits for the child's result
    try:
        with pytest.raises(KeyboardInterrupt):
            job.result()
    finally:
        signal.signal(signal.SIGALRM, previous)
    with open(tmp_path / "opened-after", "w") as fh:  # most likely the pipe's freed descriptor number
        job.cancel()
        os.fstat(fh.fileno())  # still open: cancel closed nothing of someone else's


def _refuse() -> None:
    raise LockBusy("another ctxeng process is writing", hint="wait for it")


def test_a_user_error_keeps_its_class_message_and_hint() -> None:
    with pytest.raises(LockBusy) as caught:
        fork_stage(_refuse).result()
    assert caught.value.message == "another ctxeng process is writing"
    assert caught.value.hint == "wait for it"
    assert isinstance(caught.value, CtxengError)


def _bug() -> None:
    raise ValueError("boom in the child")


def test_a_bug_in_the_child_is_a_traceback_in_the_parent() -> None:
    with pytest.raises(RuntimeError, match=r"(?s)Traceback.*ValueError: boom in the child"):
        fork_stage(_bug).result()


def test_cancel_stops_a_running_child_before_it_writes(tmp_path: Path) -> None:
    marker = tmp_path / "written"

    def slow() -> None:
        time.sleep(5)
        marker.write_text("too late")

    job = fork_stage(slow)
    job.cancel()
    time.sleep(6)
    assert not marker.exists()
    with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
        os.waitpid(-1, os.WNOHANG)


def test_the_child_dies_with_a_killed_parent(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        unavailable("the parent-death signal (prctl) is Linux-only")
    marker = tmp_path / "written"
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom ctxeng.core.forked import fork_stage\n"
        f"def slow():\n    time.sleep(3)\n    Path({str(marker)!r}).write_text('orphan wrote')\n"
        "fork_stage(slow)\nprint('started', flush=True)\ntime.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None and parent.stdout.readline().strip() == "started"
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    time.sleep(5)
    assert not marker.exists()


def _outputs(root: Path) -> dict[str, bytes]:
    """The current generation's files and the skill; the manifest without its timings, the model
    without the records file's mtime (both differ between any two runs)."""
    gen = generation(root)
    # state/ holds what the next refresh compares against, stamped with file times
    files = {str(p.relative_to(gen)): p for p in gen.rglob("*") if p.is_file() and p.parent.name != "state"}
    files |= {str(p.relative_to(root)): p for p in (root / ".claude").rglob("*") if p.is_file()}
    outputs = {rel: path.read_bytes() for rel, path in sorted(files.items())}
    manifest = json.loads(outputs["manifest.json"])
    del manifest["stages"], manifest["built_at"]
    manifest["outputs"] = sorted(
        manifest["outputs"]
    )  # their checksums and mtimes; the bytes are compared here
    outputs["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    model = json.loads(outputs["pack-model.json"])
    model["stamp"] = model["stamp"][:1]  # [size, mtime_ns]
    outputs["pack-model.json"] = json.dumps(model, sort_keys=True).encode()
    return outputs


def test_the_pack_beside_the_dataset_writes_what_one_process_writes(
    sample_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = {}
    for parallel in ("1", "0"):
        monkeypatch.setenv("CTXENG_PARALLEL", parallel)
        assert parallel_allowed() is (parallel == "1")
        for made in (".ctxeng", ".claude", "CLAUDE.md"):  # each build starts from nothing
            subprocess.run(["rm", "-rf", str(sample_repo.path / made)], check=True)
        manifest = build(sample_repo.path, parallel=True).manifest
        assert manifest["stages"]["pack"]["cpu_s"] >= 0
        built[parallel] = _outputs(sample_repo.path)
    assert built["1"].keys() == built["0"].keys()
    for name in built["1"]:
        assert built["1"][name] == built["0"][name], name
    assert any(name.endswith("pack-model.json") for name in built["1"])


@pytest.mark.parametrize("whole_group", [False, True], ids=["parent", "terminal"])
def test_ctrl_c_while_the_pack_runs_in_its_child_keeps_the_last_good_output(
    sample_repo: GitRepo, whole_group: bool
) -> None:
    """SIGINT to the parent alone, and to the whole process group as a terminal's Ctrl-C sends it."""
    assert build(sample_repo.path).manifest
    out = sample_repo.path / ".ctxeng"
    good = {n: (out / n).read_bytes() for n in ("records.jsonl", "pack-model.json", "manifest.json")}
    sample_repo.commit("Add more", {f"more_{i}.py": f"def f{i}():\n    return {i}\n" for i in range(50)})
    env = {**os.environ, "CTXENG_PARALLEL": "1", "CTXENG_PAUSE_AT": "dataset", "CTXENG_PAUSE_SECONDS": "30"}
    proc = subprocess.Popen([sys.executable, "-m", "ctxeng", "refresh", "-q", str(sample_repo.path)],
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:  # the pack's child was forked just before the dataset stage paused
        if line.strip() == "ctxeng: paused at dataset":
            break
    time.sleep(0.3)  # the child is rendering the pack now
    if whole_group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert {n: (out / n).read_bytes() for n in good} == good
    time.sleep(0.5)  # a child that outlived its parent would still be writing here
    assert not any((out / "tmp").iterdir())


def test_the_parent_seals_the_childs_index_and_model_once_told_they_are_written(tmp_path: Path) -> None:
    from ctxeng.core.fsio import Lock
    from ctxeng.core.generation import Staging
    from ctxeng.pipeline.build import _seal_child_outputs

    with Lock(tmp_path), Staging(tmp_path) as staging:
        written = Gate()

        def child() -> str:
            for rel in ("index.json", "index-details.jsonl", "pack-model.json"):
                staging.path(rel).write_text(rel * 100)
            written.open()
            time.sleep(0.3)  # rendering the pack while the parent seals
            staging.path("pack.json").write_text("{}")
            return "rendered"

        job = fork_stage(child)
        _seal_child_outputs(staging, written)
        assert sorted(staging._sealed) == ["index-details.jsonl", "index.json", "pack-model.json"]
        assert not (staging.dir / "pack.json").exists()  # sealed while the child still rendered
        assert job.result() == "rendered"
        written.close()
        staging.path("manifest.json").write_text("{}")
        staging.publish()
        assert verify(generation_dir(tmp_path)) == {}

    with (
        Lock(tmp_path),
        Staging(tmp_path) as staging,
    ):  # a child that fails first: nothing sealed, its error raised
        written = Gate()
        job = fork_stage(_bug)
        _seal_child_outputs(staging, written)
        assert staging._sealed == {}
        with pytest.raises(RuntimeError, match="boom in the child"):
            job.result()
        written.close()
