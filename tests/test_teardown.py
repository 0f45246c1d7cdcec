"""The CLI process ends without freeing what a build held, its output whole; in-process callers are unaffected."""

from __future__ import annotations

import json
import subprocess
import sys

from ctxeng.cli import main
from ctxeng.core import teardown
from tests.gitrepo import GitRepo

# The CLI as the process's entry point, with an exit handler that a normal interpreter exit would run.
_SCRIPT = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("finalized\\n"))
from ctxeng.cli import main
sys.argv = ["ctxeng", *sys.argv[1:]]
sys.exit(main())
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _SCRIPT, *args], capture_output=True, text=True)


def test_a_build_ends_its_process_at_once_with_its_output_whole(sample_repo: GitRepo) -> None:
    built = _cli("build", "-q", str(sample_repo.path))
    assert built.returncode == 0, built.stderr
    assert "finalized" not in built.stderr  # left with os._exit: nothing freed, no finalization
    sample_repo.commit("Add one", {"one.py": "def one():\n    return 1\n"})
    refreshed = _cli("refresh", "--json", str(sample_repo.path))
    assert refreshed.returncode == 0, refreshed.stderr
    assert json.loads(refreshed.stdout)["mode"] == "full"  # stdout flushed before leaving
    assert "finalized" not in refreshed.stderr


def test_commands_that_build_nothing_end_the_usual_way(sample_repo: GitRepo) -> None:
    for args in (["--help"], ["status", str(sample_repo.path)], ["build", "/nonexistent/path"]):
        proc = _cli(*args)
        assert "finalized" in proc.stderr, args
    assert _cli("build", "/nonexistent/path").returncode == 1


def test_called_in_process_nothing_is_kept_and_the_caller_goes_on(sample_repo: GitRepo) -> None:
    assert main(["build", "-q", str(sample_repo.path)]) == 0
    assert teardown._kept == []  # a program or a test calling main(argv): objects are freed as usual


def test_release_frees_what_was_kept_before_a_long_phase() -> None:
    import weakref

    class Held:
        pass

    held = Held()
    alive = weakref.ref(held)
    teardown._armed, was = True, teardown._armed
    try:
        teardown.keep(held)
        del held
        assert alive() is not None  # kept for the process's end
        teardown.release()  # `build --train` does this before training
        assert alive() is None
    finally:
        teardown._armed = was
        teardown._kept.clear()
