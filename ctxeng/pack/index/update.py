"""Patching the prompt index for a few changed files without ranking again (the pre-commit refresh).

`ctxeng refresh --hook` re-extracts only the staged files; `patch_index` makes `.ctxeng/index.json`
and its details file describe them in about a tenth of a CPU-second on a 1,000-file repository
(sqlalchemy; mostly parsing and writing 3.5 MB of JSON), where ranking every record again takes ~2.5. The changed files' rows are laid out by `build_index`
itself (same columns, terms and detail rows as a full build) and spliced in by path.

What a patch cannot know keeps its value from the last build, until the next full refresh:
- Scores. A definition keeps its old score when its file held the same qualified name before; a
  new one gets the lower median of the old scores of that file's definitions of the same
  visibility (leading underscore or not), else of the repository's: mid-file, found by its name,
  neither buried nor pushed ahead of the public API. A new file gets the lower median file score.
  Other scores are not rescaled (the build scales to the best definition and file).
- Neighbours. They come from every file's references and the co-change history, which the index
  does not hold. A changed file keeps its old neighbours and gains the files its references reach
  now (weighted as the build weighs them), which list it back at half that weight; an entry gets
  in only when strictly heavier than the weakest of the eight kept, so a file patched with its
  unchanged records leaves every list as built. Not seen: other files' references to the changed
  names, definitions in vendored code (not in the index), the ninth neighbour that a deleted one
  would make room for.
- Commits keep their file lists, renumbered; a deleted file leaves them (a commit listing more than
  eight files does not show its ninth). Glossary, commands and commit postings stay as they are.

Patching with the records a file was built from reproduces the index byte for byte. The patched
index and details file go into a staging folder: the caller's (a refresh stages its state beside
them and publishes all as one generation) or, without one, a new generation of their own. The
caller holds the `.ctxeng/` lock (a refresh does).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ctxeng.core.records import Record
from ctxeng.pack.facts import RepoFacts, facts_from_records
from ctxeng.pack.index import json_rewrite as rejson
from ctxeng.pack.index.builder import build_index
from ctxeng.pack.index.columns import (
    Layout,
    column,
    layout,
    lower_median,
    moved_pairs,
    offer,
    postings,
    reference_edges,
    remap_near,
    shifted,
    through,
)
from ctxeng.pack.index.reader import DETAILS_FILE, INDEX_FILE, INDEX_VERSION
from ctxeng.pack.index.reader import qualname as qualname_of
from ctxeng.pack.rank import Ranking

if TYPE_CHECKING:
    from ctxeng.core.generation import Staging
    from ctxeng.pack.conventions import Conventions

PATCHED_KINDS = frozenset({"file", "symbol", "doc"})  # what a file's extraction yields


class _NoCommands:
    """All `build_index` reads of the mined conventions is `commands`, which a patch keeps from the index;
    importing the miner itself (YAML, TOML, its regexes) would add ~20 ms to every pre-commit refresh."""

    commands: tuple[Any, ...] = ()


def patch_index(root: Path, replaced: Mapping[str, Sequence[Record]], staging: Staging | None = None) -> bool:
    """Replace what the current `index.json` (and its details file) hold for each path of `replaced`
    by what that path's `file`, `symbol` and `doc` records contribute (redacted and dated; no records:
    the file was deleted). See the module docstring for what keeps its old value.

    The result is written into `staging` (which the caller publishes), or else published at once as
    a new generation. Returns False and writes nothing when the index is missing, unreadable, of
    another version or inconsistent with its details file, or when a record does not belong to its
    path; never raises.
    """
    from ctxeng.core.workdir import generation, workdir

    try:
        folder = generation(Path(root)) if staging is None else staging.base
        text = (folder / INDEX_FILE).read_text(encoding="utf-8")
        details = (folder / DETAILS_FILE).read_bytes()
        parsed = rejson.parse(text)
        if not is_consistent(parsed.value, len(details)):
            return False
        new_index, new_details = patched(parsed.value, details, replaced)
        new_text = rejson.dump(new_index, parsed) + "\n"
    except Exception:  # a git hook fails open; a stale index beats a wrong one
        return False
    if new_text == text and new_details == details:
        return True
    if staging is not None:
        staging.path(DETAILS_FILE).write_bytes(new_details)
        staging.path(INDEX_FILE).write_text(new_text, encoding="utf-8", newline="\n")
        return True
    from ctxeng.core.generation import Staging

    try:
        with Staging(workdir(Path(root))) as own:
            own.path(DETAILS_FILE).write_bytes(new_details)
            own.path(INDEX_FILE).write_text(new_text, encoding="utf-8", newline="\n")
            own.publish()
    except OSError:
        return False  # nothing was switched: the previous generation stays whole
    return True


def is_consistent(index: Any, details_size: int) -> bool:
    """Whether `index` is this version's index, its tables sorted by path, its row numbers in range and
    its details file (`details_size` bytes) the one it points into. Raises nothing but TypeError /
    KeyError-style errors on malformed data, which the caller treats as inconsistent."""
    if not isinstance(index, dict) or index.get("version") != INDEX_VERSION:
        return False
    files, defs, docs, meta = index["files"], index["defs"], index["docs"], index["details"]
    paths, names = files["path"], index["names"]
    n_files, n_defs, n_docs = len(paths), len(defs["file"]), len(docs["path"])
    offsets = meta["offsets"]
    checks = [
        paths == sorted(paths) and len(set(paths)) == n_files,
        names == sorted(names) and len(set(names)) == len(names),
        len(files["score"]) == len(files["summary"]) == len(index["near"]) == n_files,
        all(len(defs[k]) == n_defs for k in ("name", "parent", "line", "code", "score")),
        len(docs["line"]) == len(docs["heading"]) == n_docs and docs["path"] == sorted(docs["path"]),
        defs["file"] == sorted(defs["file"]) and _within(defs["file"], 0, n_files),
        _within(defs["name"], 0, len(names)) and _within(defs["parent"], -1, n_defs),
        all(len(n) % 2 == 0 and _within(n[::2], 0, n_files) for n in index["near"]),
        all(_within(f, 0, n_files) for f in index["commits"]["files"]),
        all(_within(t[::2], 0, n_files) for t in index["commits"].get("touched", ())),
        meta["file"] == DETAILS_FILE and meta["defs"] == n_defs and len(offsets) == n_defs + n_docs + 1,
        offsets[0] == 0 and offsets == sorted(offsets) and offsets[-1] == details_size,
        all(
            _postings_within(index["terms"].get(k, {}), n)
            for k, n in (("d", n_defs), ("e", n_defs), ("f", n_files), ("s", n_docs), ("b", n_docs))
        ),
    ]
    return all(checks)


def _within(values: list[int], low: int, high: int) -> bool:
    return not values or (min(values) >= low and max(values) < high)


def _postings_within(table: dict[str, list[int]], n: int) -> bool:
    """Every posting list ascending (as built) from row 0 up to row n - 1; only the ends are checked."""
    return isinstance(table, dict) and all(rows and 0 <= rows[0] <= rows[-1] < n for rows in table.values())


def contribution(
    name: str, replaced: Mapping[str, Sequence[Record]]
) -> tuple[dict[str, Any], list[str], RepoFacts]:
    """What the records of `replaced` contribute, laid out by `build_index` (unscored), with the facts."""
    records = []
    for path, recs in replaced.items():
        for rec in recs:
            if not isinstance(rec, Record) or rec.path != path:
                raise ValueError(f"a record listed under {path!r} belongs elsewhere")
            if rec.kind in PATCHED_KINDS:
                records.append(rec)
    facts = facts_from_records(name, records)
    ranking = Ranking(def_score=[0.0] * len(facts.defs))
    part, rows = build_index(facts, ranking, cast("Conventions", _NoCommands()))
    return part, list(rows), facts


def patched(
    index: dict[str, Any], details: bytes, replaced: Mapping[str, Sequence[Record]]
) -> tuple[dict[str, Any], bytes]:
    """The index and details bytes with the rows of every path in `replaced` swapped for its records'."""
    changed = sorted(replaced)
    part, part_rows, facts = contribution(str(index.get("repository", "")), replaced)
    files, defs, docs = index["files"], index["defs"], index["docs"]
    p_files, p_defs, p_docs = part["files"], part["defs"], part["docs"]
    old_paths, p_paths = files["path"], p_files["path"]
    fl = layout(len(old_paths), old_paths.__getitem__, len(p_paths), p_paths.__getitem__, changed)
    dl = layout(len(defs["file"]), lambda i: old_paths[defs["file"][i]],
                len(p_defs["file"]), lambda i: p_paths[p_defs["file"][i]], changed)  # fmt: skip
    ol = layout(
        len(docs["path"]), docs["path"].__getitem__, len(p_docs["path"]), p_docs["path"].__getitem__, changed
    )
    names, old_names, part_names = _names(index, part, dl)
    same_file = _file_map(old_paths, p_paths, fl)

    out = dict(index)
    out["files"] = {
        "path": column(fl, old_paths, p_paths),
        "score": column(fl, files["score"], _file_scores(index, part)),
        "summary": column(fl, files["summary"], p_files["summary"]),
    }
    out["names"] = names
    out["defs"] = {
        "file": column(
            dl,
            defs["file"],
            p_defs["file"],
            None if fl.identity else through(fl.old_to_new),
            through(fl.new_of_part),
        ),
        "name": column(dl, defs["name"], p_defs["name"], old_names, part_names),
        "parent": column(dl, defs["parent"], p_defs["parent"], shifted, through(dl.new_of_part)),
        "line": column(dl, defs["line"], p_defs["line"]),
        "code": column(dl, defs["code"], p_defs["code"]),
        "score": column(dl, defs["score"], _def_scores(index, part)),
    }
    out["docs"] = {key: column(ol, docs[key], p_docs[key]) for key in ("path", "line", "heading")}
    terms = dict(index["terms"])
    for kind, lay in (("d", dl), ("e", dl), ("f", fl), ("s", ol), ("b", ol)):
        terms[kind] = postings(index["terms"].get(kind, {}), part["terms"].get(kind, {}), lay)
    out["terms"] = terms
    out["near"] = _near(index, part, facts, fl, same_file, out["defs"], names)
    if same_file != list(range(len(same_file))):
        commits = dict(index["commits"])
        commits["files"] = [[same_file[j] for j in rows if same_file[j] >= 0] for rows in commits["files"]]
        commits["touched"] = [moved_pairs(same_file, flat) for flat in commits.get("touched", [])]
        out["commits"] = commits
    _reuse_equal(out, index)
    body, offsets = _details(details, index["details"]["offsets"], len(defs["file"]), dl, ol, part_rows,
                             len(p_defs["file"]))  # fmt: skip
    out["details"] = {**index["details"], "defs": dl.size, "offsets": offsets}
    return out, body


def _reuse_equal(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Put back the old object wherever a rebuilt member (or a column of a table) equals it, so that
    `rejson.dump` copies its text. Index columns hold only ints and strings, where equal means same JSON."""
    for key, value in new.items():
        before = old.get(key)
        if value is before:
            continue
        if isinstance(value, dict) and isinstance(before, dict):
            for col, rows in value.items():
                if rows is not before.get(col) and rows == before.get(col):
                    value[col] = before[col]
        elif value == before:
            new[key] = before


def _names(index: dict[str, Any], part: dict[str, Any], dl: Layout) -> tuple[list[str], Any, Any]:
    """The patched name table and how old and contributed name ids map into it (None: unchanged)."""
    old, ids = index["names"], index["defs"]["name"]
    dropped = sorted({k for run in _gaps(dl) for k in ids[run.start : run.stop]})
    added = set(part["names"])
    kept: set[int] = set()
    for run in dl.runs:
        if run.old:
            kept.update(ids[run.start : run.stop])
    vanished = {k for k in dropped if k not in kept and old[k] not in added}
    new = sorted(n for n in added if not _has(old, n))
    if not vanished and not new:
        position = {n: bisect_left(old, n) for n in part["names"]}
        return old, None, through([position[n] for n in part["names"]])
    names = sorted([n for k, n in enumerate(old) if k not in vanished] + new)
    # Old id k moves up by the new names sorting before it and down by the vanished ids before it:
    # a shift constant between breakpoints, so the map is built from ranges.
    steps = sorted([(bisect_left(old, n), 1) for n in new] + [(k, -1) for k in vanished] + [(len(old), 0)])
    mapping: list[int] = []
    shift = 0
    for k, step in steps:
        start = len(mapping)
        mapping.extend(range(start + shift, k + shift))
        if step < 0 and len(mapping) == k:  # a vanished id: no new number
            mapping.append(-1)
        shift += step
    position = {n: bisect_left(names, n) for n in part["names"]}
    return names, through(mapping[: len(old)]), through([position[n] for n in part["names"]])


def _gaps(lay: Layout) -> list[range]:
    """The old rows no run keeps (those of the changed paths)."""
    out, pos = [], 0
    for run in lay.runs:
        if run.old:
            out.append(range(pos, run.start))
            pos = run.stop
    out.append(range(pos, len(lay.old_to_new)))
    return [r for r in out if r]


def _has(sorted_names: list[str], name: str) -> bool:
    k = bisect_left(sorted_names, name)
    return k < len(sorted_names) and sorted_names[k] == name


def _file_map(old_paths: list[str], part_paths: list[str], fl: Layout) -> list[int]:
    """Old file row → the patched row of the same path (a changed file that still exists included)."""
    out = list(fl.old_to_new)
    for m, path in enumerate(part_paths):
        rows = _old_rows(old_paths.__getitem__, len(old_paths), path)
        if rows:
            out[rows[0]] = fl.new_of_part[m]
    return out


def _old_rows(keys: Any, n: int, path: str) -> range:
    """The rows [lo, hi) of an old path-sorted table whose key is `path`."""
    lo = bisect_left(range(n), path, key=keys)
    return range(lo, bisect_right(range(n), path, lo, key=keys))


def _file_scores(index: dict[str, Any], part: dict[str, Any]) -> list[int]:
    """A changed file keeps its score; a new one gets the lower median of the old file scores."""
    paths, scores = index["files"]["path"], index["files"]["score"]
    out = []
    for path in part["files"]["path"]:
        rows = _old_rows(paths.__getitem__, len(paths), path)
        out.append(scores[rows[0]] if rows else lower_median(scores))
    return out


def _def_scores(index: dict[str, Any], part: dict[str, Any]) -> list[int]:
    """Old score by (file, qualified name), else the lower median of the file's (else the repository's)
    old scores of definitions with the same visibility (see the module docstring)."""
    defs, names, paths = index["defs"], index["names"], index["files"]["path"]
    p_defs, p_names, p_paths = part["defs"], part["names"], part["files"]["path"]
    by_file: dict[int, tuple[dict[str, int], dict[bool, list[int]]]] = {}
    repo_pool: dict[bool, int] = {}
    out = []
    for i, f in enumerate(p_defs["file"]):
        if f not in by_file:
            rows = _old_rows(lambda r: paths[defs["file"][r]], len(defs["file"]), p_paths[f])
            pool: dict[bool, list[int]] = {True: [], False: []}
            for r in rows:
                pool[names[defs["name"][r]].startswith("_")].append(defs["score"][r])
            by_file[f] = ({qualname_of(index, r): defs["score"][r] for r in reversed(rows)}, pool)
        known, pool = by_file[f]
        qual = qualname_of(part, i)
        if qual in known:
            out.append(known[qual])
            continue
        private = p_names[p_defs["name"][i]].startswith("_")
        if pool[private]:
            out.append(lower_median(pool[private]))
            continue
        if private not in repo_pool:
            flags = [n.startswith("_") == private for n in names]
            same = [s for k, s in zip(defs["name"], defs["score"]) if flags[k]]
            repo_pool[private] = lower_median(same or defs["score"])
        out.append(repo_pool[private])
    return out


def _near(index: dict[str, Any], part: dict[str, Any], facts: RepoFacts, fl: Layout, same_file: list[int],
          new_defs: dict[str, list[int]], names: list[str]) -> list[list[int]]:  # fmt: skip
    """Neighbour lists: old ones renumbered, changed files' own kept, their current references offered."""
    old_near, old_paths = index["near"], index["files"]["path"]
    moved = same_file != list(range(len(same_file)))
    keep = (lambda n: remap_near(n, same_file)) if moved else (lambda n: n)
    own = []
    for path in part["files"]["path"]:
        rows = _old_rows(old_paths.__getitem__, len(old_paths), path)
        own.append(keep(old_near[rows[0]]) if rows else [])
    near = column(fl, old_near, own, lambda lists, _: [keep(n) for n in lists])
    wanted = {k for path in part["files"]["path"] for ident in facts.files[path].refs
              if (k := bisect_left(names, ident)) < len(names) and names[k] == ident}  # fmt: skip
    definers: dict[str, dict[int, int]] = {}
    for k, f in zip(new_defs["name"], new_defs["file"]):
        if k in wanted:
            slot = definers.setdefault(names[k], {})
            slot[f] = slot.get(f, 0) + 1
    for m, path in enumerate(part["files"]["path"]):
        a = fl.new_of_part[m]
        for b, weight in reference_edges(facts.files[path].refs, a, definers).items():
            offer(near[a], b, weight)
            offer(near[b], a, 0.5 * weight)  # being used is the weaker tie, as in the build
    return near


def _details(data: bytes, offsets: list[int], n_defs: int, dl: Layout, ol: Layout, part_rows: list[str],
             n_part_defs: int) -> tuple[bytes, list[int]]:  # fmt: skip
    """The patched details file (definition rows, then doc rows) and its row offsets."""
    chunks: list[bytes] = []
    out: list[int] = []
    pos = 0
    for lay, old_base, part_base in ((dl, 0, 0), (ol, n_defs, n_part_defs)):
        for run in lay.runs:
            if run.old:
                start, stop = offsets[old_base + run.start], offsets[old_base + run.stop]
                shift, kept = pos - start, offsets[old_base + run.start : old_base + run.stop]
                out.extend([o + shift for o in kept] if shift else kept)
                chunks.append(data[start:stop])
                pos += stop - start
            else:
                for text in part_rows[part_base + run.start : part_base + run.stop]:
                    row = text.encode("utf-8") + b"\n"
                    out.append(pos)
                    chunks.append(row)
                    pos += len(row)
    out.append(pos)
    return b"".join(chunks), out
