"""How fast `patch_index` brings the prompt index up to date after one staged edit (pre-commit refresh).

Usage:
    git clone -q /work/repos/sqlalchemy /tmp/h11-sqla      # never build inside /work/repos
    ctxeng build /tmp/h11-sqla -q
    python bench/patch_index.py /tmp/h11-sqla [--file lib/sqlalchemy/orm/session.py] [--runs 7] [--json]

Scenarios on FILE: the unchanged records (nothing to write), a function added, the file's last
function renamed, a new file beside it, FILE deleted. Each run restores the built index first and
times one `patch_index` call in this process (the files' extraction is timed apart: the refresh
pays it too, but it is not the patch). Reported per scenario: median and best wall and CPU
seconds, and for the "add" scenario the phases (read + parse, consistency check, splice, JSON
dump, atomic writes). Target: ≲ 0.1 s on sqlalchemy, inside the refresh's 0.5 s. The build's
index is restored when the script ends.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ctxeng.core.config import load_config
from ctxeng.core.fsio import atomic_write_bytes, atomic_write_text
from ctxeng.core.provenance import Provenance
from ctxeng.core.records import Record
from ctxeng.extract.files import extract_files
from ctxeng.extract.selection import SourceFile
from ctxeng.pack.index import json_rewrite as rejson
from ctxeng.pack.index import update as patch_mod
from ctxeng.secrets import Redactor

FILES = ("index.json", "index-details.jsonl")


def extract(root: Path, path: str, text: str) -> list[Record]:
    """The records the refresh makes of one staged file: extracted, redacted, dated as staged."""
    config = load_config(root)
    source = SourceFile(path=path, blob="0" * 40, text=text, size=len(text.encode()), encoding="utf-8")
    out = extract_files([source], config.docs if config.docs.enabled else None, Redactor(config.secrets), None,
                        lambda *_: None)  # fmt: skip
    return Provenance(staged={path}).stamp([*out.code, *out.docs])


def scenarios(root: Path, path: str) -> dict[str, dict[str, list[Record]]]:
    """Scenario name → the `replaced` argument of patch_index."""
    text = (root / path).read_text(encoding="utf-8")
    added = (
        text
        + '\n\ndef patched_index_probe(session, limit: int = 10) -> list:\n    """A function added in the bench."""\n    return []\n'
    )
    last_def = text.rfind("\ndef ")
    name = text[last_def + 5 : text.index("(", last_def)]
    renamed = text[:last_def] + text[last_def:].replace(f"def {name}(", f"def {name}_renamed(", 1)
    sibling = path.rsplit("/", 1)[0] + "/zz_patch_probe.py"
    return {
        "unchanged": {path: extract(root, path, text)},
        "add": {path: extract(root, path, added)},
        "rename": {path: extract(root, path, renamed)},
        "new file": {
            sibling: extract(root, sibling, '"""Probe."""\n\n\ndef probe_helper() -> int:\n    return 1\n')
        },
        "delete": {path: []},
    }


def phases(root: Path, replaced: dict[str, list[Record]]) -> dict[str, tuple[float, float]]:
    """(CPU s, wall s) of each step patch_index takes (the same calls, timed one by one)."""
    folder = root / ".ctxeng"
    marks = [(time.process_time(), time.perf_counter())]
    text = (folder / "index.json").read_text(encoding="utf-8")
    details = (folder / "index-details.jsonl").read_bytes()
    parsed = rejson.parse(text)
    marks.append((time.process_time(), time.perf_counter()))
    assert patch_mod.is_consistent(parsed.value, len(details))
    marks.append((time.process_time(), time.perf_counter()))
    new_index, new_details = patch_mod.patched(parsed.value, details, replaced)
    marks.append((time.process_time(), time.perf_counter()))
    new_text = rejson.dump(new_index, parsed) + "\n"
    marks.append((time.process_time(), time.perf_counter()))
    atomic_write_bytes(folder / "index-details.jsonl", new_details)
    atomic_write_text(folder / "index.json", new_text)
    marks.append((time.process_time(), time.perf_counter()))
    names = ("read+parse", "check", "splice", "dump", "write")
    return {n: (marks[k + 1][0] - marks[k][0], marks[k + 1][1] - marks[k][1]) for k, n in enumerate(names)}


def details_io(folder: Path, runs: int) -> dict[str, float]:
    """Best wall seconds of the details file's two possible writes: the atomic rewrite patch_index does,
    and appending a few rows in place (fsynced), which the reader's offsets-in-row-order format cannot use."""
    data = (folder / "index-details.jsonl").read_bytes()
    rows = (
        b'["def patched_index_probe(session, limit: int = 10) -> list","A function added.","function"]\n' * 3
    )
    scratch = Path(tempfile.mkdtemp(prefix="patch-io-"))
    best = {"rewrite": float("inf"), "append": float("inf")}
    try:
        for _ in range(runs):
            start = time.perf_counter()
            atomic_write_bytes(scratch / "rewrite.jsonl", data)
            best["rewrite"] = min(best["rewrite"], time.perf_counter() - start)
            (scratch / "append.jsonl").write_bytes(data)
            start = time.perf_counter()
            with open(scratch / "append.jsonl", "ab") as fh:
                fh.write(rows)
                fh.flush()
                os.fsync(fh.fileno())
            best["append"] = min(best["append"], time.perf_counter() - start)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--file", default="lib/sqlalchemy/orm/session.py")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = args.repo.resolve()
    folder = root / ".ctxeng"
    if not (folder / "index.json").is_file():
        raise SystemExit(f"no index in {folder}: run `ctxeng build {root}` first")
    backup = Path(tempfile.mkdtemp(prefix="patch-bench-"))
    for name in FILES:
        shutil.copy2(folder / name, backup / name)
    sizes = {name: (folder / name).stat().st_size for name in FILES}
    started = time.process_time()
    cases = scenarios(root, args.file)
    extract_s = (time.process_time() - started) / len(cases)
    report: dict[str, object] = {"repo": str(root), "file": args.file, "sizes": sizes,
                                 "extract_cpu_s_per_case": round(extract_s, 3)}  # fmt: skip
    print(f"{root.name}: index.json {sizes['index.json'] / 1e6:.2f} MB, details {sizes[FILES[1]] / 1e6:.2f} MB; "
          f"extracting {args.file} ≈ {extract_s:.3f} CPU-s (not part of the patch)")  # fmt: skip
    try:
        for label, replaced in cases.items():
            walls, cpus = [], []
            for _ in range(args.runs):
                for name in FILES:
                    shutil.copy2(backup / name, folder / name)
                wall, cpu = time.perf_counter(), time.process_time()
                ok = patch_mod.patch_index(root, replaced)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                if not ok:
                    raise SystemExit(f"patch_index returned False for {label!r}")
            row = {"wall_s": round(statistics.median(walls), 4), "min_wall_s": round(min(walls), 4),
                   "cpu_s": round(statistics.median(cpus), 4), "min_cpu_s": round(min(cpus), 4)}  # fmt: skip
            report[label] = row
            print(f"  {label:<10} wall {row['wall_s']:.3f} s (best {row['min_wall_s']:.3f})  "
                  f"cpu {row['cpu_s']:.3f} s (best {row['min_cpu_s']:.3f})")  # fmt: skip
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.runs):
            for name in FILES:
                shutil.copy2(backup / name, folder / name)
            for step, (cpu, wall) in phases(root, cases["add"]).items():
                old = best.get(step, (cpu, wall))
                best[step] = (min(old[0], cpu), min(old[1], wall))
        report["add_phases_best_s"] = {
            k: {"cpu": round(c, 4), "wall": round(w, 4)} for k, (c, w) in best.items()
        }
        print(
            "  add, best per phase (CPU / wall s): "
            + ", ".join(f"{k} {c:.3f}/{w:.3f}" for k, (c, w) in best.items())
        )
        io = details_io(folder, args.runs)
        report["details_write_best_wall_s"] = {k: round(v, 4) for k, v in io.items()}
        print(
            f"  details file: atomic rewrite {io['rewrite']:.4f} s vs in-place append {io['append']:.4f} s (wall)"
        )
    finally:
        for name in FILES:
            shutil.copy2(backup / name, folder / name)
        shutil.rmtree(backup, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
