"""Crash and Ctrl-C safety of publication: real `ctxeng build` processes killed at each stage."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctxeng.core.generation import generations, verify
from ctxeng.core.workdir import GENERATION_ENTRIES, generation, workdir
from ctxeng.pack.model import records_stamp
from ctxeng.pipeline.build import build
from tests.gitrepo import GitRepo

ROOT = Path(__file__).resolve().parents[1]
BEFORE_SWITCH = ("select", "history", "code", "glossary", "secrets", "dataset", "write", "pack", "publish")


def start_build(
    root: Path, pause: str = "", seconds: float = 30.0, command: str = "build"
) -> subprocess.Popen[str]:
    """`ctxeng <command> -q root` in a subprocess, pausing at `pause` (see ctxeng.core.faults)."""
    env = {**os.environ, "CTXENG_PAUSE_AT": pause, "CTXENG_PAUSE_SECONDS": str(seconds)}
    return subprocess.Popen(
        [sys.executable, "-m", "ctxeng", command, "-q", str(root)],
        stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip


def wait_paused(proc: subprocess.Popen[str], point: str) -> None:
    """Read the run's stderr until it says it paused at `point`."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.strip() == f"ctxeng: paused at {point}":
            return
    raise AssertionError(f"the run ended (rc {proc.wait()}) before pausing at {point}: {''.join(seen)}")


def wait_locked(proc: subprocess.Popen[str], root: Path) -> None:
    """Wait until the run holds the output lock, i.e. ctxeng's own code (and its Ctrl-C handling) runs.

    A Ctrl-C in the first milliseconds lands in the interpreter's start-up (runpy locating the
    package), before any ctxeng code exists to handle it; that is Python's, not a build's, behaviour.
    """
    lock = workdir(root) / "lock"
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if lock.read_text().strip() == str(proc.pid):
                return
        except OSError:
            pass
        time.sleep(0.005)


def whole(root: Path) -> dict[str, str]:
    """Assert that `.ctxeng/` shows one complete generation; returns its name and head."""
    out = workdir(root)
    gen = generation(root)
    assert gen != out, "no current generation"
    assert verify(gen) == {}
    manifest = json.loads((gen / "manifest.json").read_text())
    head = manifest["head"]
    assert (gen / "state" / "head").read_text().strip() == head
    assert json.loads((gen / "pack.json").read_text())["head"] == head
    assert json.loads((gen / "pack-model.json").read_text())["stamp"] == records_stamp(gen / "records.jsonl")
    for name in GENERATION_ENTRIES:  # the old top-level paths lead into this same generation
        assert os.path.realpath(out / name) == os.path.realpath(gen / name)
    return {"gen": gen.name, "head": head}


def skill_applied(root: Path) -> bool:
    """Whether the work tree's skill files are the current generation's."""
    gen = generation(root)
    plan = json.loads((gen / "worktree.json").read_text())
    folder = root / ".claude" / "skills" / plan["skill"]
    return all((folder / rel).read_bytes() == (gen / "skill" / rel).read_bytes() for rel in plan["files"])


def leftovers(root: Path) -> list[str]:
    """Temporary files and stale generations an interrupted run left behind."""
    out = workdir(root)
    found = [p.name for p in (out / "tmp").iterdir()] if (out / "tmp").is_dir() else []
    found += [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    for folder in (root / ".claude" / "skills").glob("*"):
        found += [p.name for p in folder.rglob(".*.tmp")]
    return found


def _change(repo: GitRepo, n: int) -> str:
    return repo.commit(f"Add module {n}", {f"extra/mod_{n}.py": f"def added_{n}(x):\n    return x + {n}\n"})


@pytest.fixture
def built(sample_repo: GitRepo) -> GitRepo:
    build(sample_repo.path)
    return sample_repo


@pytest.mark.parametrize("point", [*BEFORE_SWITCH, "switched"])
def test_sigkill_at_each_stage_leaves_one_whole_generation(built: GitRepo, point: str) -> None:
    root = built.path
    before = whole(root)
    head = _change(built, 1)
    proc = start_build(root, point)
    wait_paused(proc, point)
    proc.kill()
    proc.wait()
    after = whole(root)
    if point == "switched":
        assert after["head"] == head and after["gen"] != before["gen"]
    else:
        assert after == before  # nothing of the killed run is visible
    # the next run recovers: work-tree skill, no stage folders, no generation but current and previous
    assert (
        subprocess.run([sys.executable, "-m", "ctxeng", "refresh", "-q", str(root)], cwd=ROOT).returncode == 0
    )
    final = whole(root)
    assert final["head"] == head
    assert skill_applied(root)
    assert leftovers(root) == []
    assert len(generations(workdir(root))) <= 2
    assert (workdir(root) / "applied").read_text().strip() == final["gen"]


@pytest.mark.parametrize("point", ["history", "pack", "publish", "switched", "published"])
def test_ctrl_c_exits_130_before_the_switch_and_0_after(built: GitRepo, point: str) -> None:
    root = built.path
    before = whole(root)
    head = _change(built, 2)
    proc = start_build(root, point, seconds=2.0)
    wait_paused(proc, point)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    after = whole(root)
    if point in ("switched", "published"):  # published: the run completes, and says so
        assert proc.returncode == 0, err
        assert after["head"] == head and skill_applied(root)
        assert (workdir(root) / "applied").read_text().strip() == after["gen"]
    else:
        assert proc.returncode == 130, err
        assert after == before
        assert leftovers(root) == []  # Ctrl-C cleans up at once


def test_kill_during_the_work_tree_copy_is_finished_by_the_next_run(built: GitRepo) -> None:
    root = built.path
    _change(built, 3)
    proc = start_build(root, "switched")
    wait_paused(proc, "switched")
    proc.kill()
    proc.wait()
    skill = root / ".claude" / "skills" / "kvstore-context"
    # what a kill inside atomic_writer leaves: `.<name>.<random>.tmp` beside the file it was replacing
    (skill / ".SKILL.md.k3j_9x2a.tmp").write_text("half")
    (skill / "references" / ".repo-map.md.q81zz0ab.tmp").write_text("half")
    (root / ".CLAUDE.md.0a1b2c3d.tmp").write_text("half")
    mine = skill / "notes.tmp"  # not a name ctxeng writes: the user's, kept
    mine.write_text("keep")
    assert not skill_applied(root)
    proc = subprocess.run(
        [sys.executable, "-m", "ctxeng", "status"], cwd=root, capture_output=True, text=True
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert (
        subprocess.run([sys.executable, "-m", "ctxeng", "refresh", "-q", str(root)], cwd=ROOT).returncode == 0
    )
    assert skill_applied(root)
    assert leftovers(root) == [] and not (root / ".CLAUDE.md.0a1b2c3d.tmp").exists()
    assert mine.read_text() == "keep"


def test_build_labels_outputs_with_the_head_it_mined_after_waiting_for_the_lock(built: GitRepo) -> None:
    root = built.path
    out = workdir(root)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import sys; from pathlib import Path; from ctxeng.core.fsio import Lock\nwith Lock(Path({str(out)!r})):\n"
         "    print('locked', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        waiting = start_build(root)
        time.sleep(2.0)  # it has read HEAD and is waiting for the lock
        assert waiting.poll() is None
        head = _change(built, 4)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait()
    _, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    state = whole(root)
    assert state["head"] == head
    records = [json.loads(line) for line in (generation(root) / "records.jsonl").read_text().splitlines()]
    assert any(r["path"] == "extra/mod_4.py" for r in records)


def test_random_kills_never_show_a_mixed_set(built: GitRepo) -> None:
    """A few kills at random moments (bench/kill.py does 50 and reports the figure)."""
    root = built.path
    started = time.monotonic()
    assert (
        subprocess.run([sys.executable, "-m", "ctxeng", "build", "-q", str(root)], cwd=ROOT).returncode == 0
    )
    span = time.monotonic() - started
    rng = random.Random(12)
    for n in range(6):
        _change(built, 10 + n)
        proc = start_build(root)
        if n % 2:  # Ctrl-C is promised from the moment the build runs; SIGKILL may land anywhere
            wait_locked(proc, root)
        time.sleep(rng.uniform(0.0, span))
        proc.send_signal(signal.SIGKILL if n % 2 == 0 else signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert "Traceback" not in err
        state = whole(root)
        if proc.returncode == 130:  # interrupted before the switch: the previous generation
            assert state["head"] != built.head()
        elif proc.returncode == 0:
            assert state["head"] == built.head()
    assert (
        subprocess.run([sys.executable, "-m", "ctxeng", "refresh", "-q", str(root)], cwd=ROOT).returncode == 0
    )
    assert whole(root)["head"] == built.head() and skill_applied(root) and leftovers(root) == []


def test_readers_see_one_whole_generation_while_writers_run(built: GitRepo) -> None:
    """A reader polling `.ctxeng/` during overlapping builds, packs and hook refreshes never sees a mix."""
    import threading

    root = built.path
    done = threading.Event()
    seen: list[str] = []
    broken: list[str] = []

    def read() -> None:
        while not done.is_set():
            gen = generation(root)
            try:
                manifest = json.loads((gen / "manifest.json").read_text())
                problems = verify(gen)
                state_head = (gen / "state" / "head").read_text().strip()
                model = json.loads((gen / "pack-model.json").read_text())
                stamp = records_stamp(gen / "records.jsonl")
            except FileNotFoundError:
                if gen == generation(root):  # gone while still current: that would be a bug
                    broken.append(f"{gen.name}: a file is missing")
                continue  # an old generation removed by a later run after we resolved it
            if problems or state_head != manifest["head"] or model["stamp"] != stamp:
                broken.append(f"{gen.name}: {problems or 'heads or stamps differ'}")
            seen.append(gen.name)
            time.sleep(0.01)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(2):
            _change(built, 20 + n)
            writers = [start_build(root), start_build(root, command="pack")]
            (root / "kvstore" / "store.py").write_text(
                (root / "kvstore" / "store.py").read_text() + f"\n\ndef later_{n}():\n    return {n}\n"
            )
            built.git("add", "kvstore/store.py")
            hook = subprocess.Popen([sys.executable, "-m", "ctxeng", "refresh", "--hook", str(root)], cwd=ROOT,
                                    stderr=subprocess.PIPE, text=True)  # fmt: skip
            for proc in [*writers, hook]:
                _, err = proc.communicate(timeout=300)
                assert proc.returncode == 0, err
            built.git("checkout", "HEAD", "--", "kvstore/store.py")
    finally:
        done.set()
        reader.join()
    assert broken == []
    assert len(set(seen)) >= 3  # it did watch several generations go by
    assert whole(root)["head"] == built.head()


_WRAPPED_INTERRUPT = """
import sys
import ctxeng.cli as cli

class Interrupting:
    def __set_name__(self, owner, name):
        raise KeyboardInterrupt  # what a Ctrl-C landing in a dataclass field's __set_name__ looks like

real = cli.LazyGroup.get_command

def get_command(self, ctx, name):
    command = real(self, ctx, name)
    class Importing:  # the command's module is being imported, and a class defined, when Ctrl-C lands
        field = Interrupting()
    return command

cli.LazyGroup.get_command = get_command
sys.exit(cli.main(sys.argv[1:]))
"""


def test_ctrl_c_wrapped_by_an_import_still_exits_130(built: GitRepo) -> None:
    """bench/kill.py found a Ctrl-C during a lazy import exiting 1 with a traceback (Python 3.11 wraps an
    exception raised in `__set_name__` in a RuntimeError)."""
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPED_INTERRUPT, "status", str(built.path)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip().endswith("interrupted")
