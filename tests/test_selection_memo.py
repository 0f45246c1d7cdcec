"""Selection through stored content verdicts: the same selection as reading every blob, reading only new ones."""

from __future__ import annotations

from pathlib import Path

from ctxeng.core.config import FilesConfig, SecretsConfig
from ctxeng.core.repo import open_repo
from ctxeng.extract.selection import Selection, select_files
from ctxeng.extract.selection_memo import MEMO_FILE
from tests.gitrepo import GitRepo


def _files(repo: GitRepo) -> None:
    repo.write("src/app.py", "def main():\n    return 1\n")
    repo.write("src/latin.py", "s = '\xe9t\xe9'\n".encode("latin-1"))
    repo.write("src/wide.py", "x = '" + "y" * 300 + "'\n")
    repo.write("data.dat", b"abc\0def")
    repo.write("gen/api_pb2.py", "# DO NOT EDIT!\nx = 1\n")
    repo.write("empty.py", "")
    repo.commit("Add files")


def _select(repo: GitRepo, memo: Path | None, **files: object) -> Selection:
    config = FilesConfig(**files)  # type: ignore[arg-type]
    return select_files(open_repo(repo.path), config, SecretsConfig(), memo=memo)


def _view(sel: Selection) -> tuple[object, ...]:
    files = [(f.path, f.blob, f.text, f.size, f.encoding) for f in sel.files]
    return files, dict(sel.skipped), sel.examples, sel.outcomes


def test_stored_verdicts_give_the_same_selection_without_reading(git_repo: GitRepo, tmp_path: Path) -> None:
    _files(git_repo)
    memo = tmp_path / "out"
    first = _select(git_repo, memo)
    assert (memo / MEMO_FILE).is_file()
    again = _select(git_repo, memo)
    assert all(f._text is None for f in again.files)  # selected without reading a blob
    assert _view(again) == _view(first) == _view(_select(git_repo, None))  # texts read on use: the same
    # A new blob is read (and stored); the unchanged ones still are not.
    git_repo.commit("Change", {"src/app.py": "def main():\n    return 2\n", "new.py": "z = 3\n"})
    third = _select(git_repo, memo)
    read = {f.path for f in third.files if f._text is not None}
    assert read == {"src/app.py", "new.py"}
    assert _view(third) == _view(_select(git_repo, None))


def test_verdicts_are_not_reused_under_other_settings(git_repo: GitRepo, tmp_path: Path) -> None:
    """The content checks read `max_line_length` and `skip_generated`: other values decide afresh."""
    _files(git_repo)
    memo = tmp_path / "out"
    first = _select(git_repo, memo, max_line_length=100)
    assert first.outcomes["src/wide.py"] == "minified"
    assert first.outcomes["gen/api_pb2.py"] == "generated"
    wider = _select(git_repo, memo, max_line_length=1000, skip_generated=False)
    assert wider.outcomes["src/wide.py"] == wider.outcomes["gen/api_pb2.py"] == ""
    assert _view(wider) == _view(_select(git_repo, None, max_line_length=1000, skip_generated=False))
    assert _view(_select(git_repo, memo, max_line_length=100)) == _view(first)


def test_a_torn_memo_reads_as_empty(git_repo: GitRepo, tmp_path: Path) -> None:
    _files(git_repo)
    memo = tmp_path / "out"
    _select(git_repo, memo)
    (memo / MEMO_FILE).write_text('{"salt": "x", "entr')
    sel = _select(git_repo, memo)
    assert all(f._text is not None for f in sel.files)
    assert _view(sel) == _view(_select(git_repo, None))


def test_a_build_whose_extraction_cache_is_gone_reads_the_texts(sample_repo: GitRepo) -> None:
    """Verdicts stored, extraction cache deleted: every file is a cache miss, its text read on use,
    and the forced rebuild writes the same records."""
    import shutil

    from ctxeng.core.cache import CACHE_DIR
    from ctxeng.pipeline.build import build

    build(sample_repo.path)
    records = (sample_repo.path / ".ctxeng/records.jsonl").read_bytes()
    assert (sample_repo.path / ".ctxeng" / MEMO_FILE).is_file()
    shutil.rmtree(sample_repo.path / ".ctxeng" / CACHE_DIR)
    manifest = build(sample_repo.path, force=True).manifest
    assert manifest["files"]["cached"] == 0
    assert (sample_repo.path / ".ctxeng/records.jsonl").read_bytes() == records
