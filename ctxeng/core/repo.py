"""The repository as ctxeng sees it: its root, HEAD, and the files tracked in its index."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ctxeng.core.errors import CtxengError
from ctxeng.core.gitcli import Git, decode

# git's mode for symlinks and for submodules (gitlinks) in `ls-files -s`.
MODE_SYMLINK = "120000"
MODE_GITLINK = "160000"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One path of the index: what git would commit, not what the work tree holds."""

    path: str
    blob: str
    mode: str


@dataclass
class RepoView:
    """A git work tree opened for reading.

    Content is always read as blobs from the index (`git ls-files -s` + `git cat-file`), so a
    symlink is never followed, a FIFO is never opened, .gitignore is honoured by construction,
    and inside a git hook the staged content (GIT_INDEX_FILE) is what ctxeng sees.
    """

    root: Path
    git_dir: Path
    head: str  # "" when the repository has no commit yet
    branch: str  # "" when HEAD is detached
    shallow: bool
    git: Git
    #: The last `index()` read and the index file's identity then (see `_index_stamp`).
    _index_memo: tuple[tuple[int, ...], list[IndexEntry]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def name(self) -> str:
        """The repository's name (its directory's name)."""
        return self.root.name

    def index(self) -> list[IndexEntry]:
        """Every index entry, sorted by path; conflicted paths keep their "ours" (stage 2) side.

        Read again only when the index file changed since the last call (a build asks five times).
        """
        stamp = self._index_stamp()
        if stamp is not None and self._index_memo is not None and self._index_memo[0] == stamp:
            return list(self._index_memo[1])
        entries = self._read_index()
        # Kept only when the file was the same before and after the read (not rewritten meanwhile).
        self._index_memo = (stamp, entries) if stamp is not None and stamp == self._index_stamp() else None
        return list(entries)

    def _index_stamp(self) -> tuple[int, ...] | None:
        """The index file's identity: git rewrites it through a lock file and a rename, so any change
        gives another inode (and times); None when the file is not known for sure (no memo then)."""
        index = self.git.env.get("GIT_INDEX_FILE")
        if index is not None and not os.path.isabs(index):
            return None  # relative to whichever folder git runs in: not worth guessing
        try:
            st = os.stat(index if index is not None else self.git_dir / "index")
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _read_index(self) -> list[IndexEntry]:
        entries: dict[str, IndexEntry] = {}
        for raw in self.git.stream(["ls-files", "-s", "-z"]):
            if not raw:
                continue
            meta, _, path_bytes = raw.partition(b"\t")
            mode, blob, stage = meta.decode().split()
            path = decode(path_bytes)
            if stage in ("0", "2") or path not in entries:
                entries[path] = IndexEntry(path, blob, mode)
        return [entries[p] for p in sorted(entries)]

    def head_time(self) -> int:
        """Committer time of HEAD in Unix seconds (0 without commits)."""
        return int(self.git.text(["log", "-1", "--format=%ct", "HEAD"])) if self.head else 0


def _git_path(path: Path, inherit: bool, what: str) -> Path | None:
    git = Git(path, inherit_repo_vars=inherit)
    out = git.run(["rev-parse", what], check=False).decode("utf-8", "surrogateescape").strip()
    return Path(out).resolve() if out else None


def _hook_vars_belong_here(start: Path, git_dir: Path) -> bool:
    """Whether inherited GIT_DIR / GIT_INDEX_FILE describe the repository at `start`.

    git exports them to hooks; they are right for the repository being committed (under
    `git commit -a` GIT_INDEX_FILE is the temporary index holding what is committed) and wrong
    for any other repository a hook happens to inspect.
    """
    if "GIT_DIR" in os.environ and _git_path(start, True, "--absolute-git-dir") != git_dir:
        return False
    index = os.environ.get("GIT_INDEX_FILE")
    if index:
        common = _git_path(start, False, "--git-common-dir") or git_dir
        resolved = (start / index).resolve() if not os.path.isabs(index) else Path(index).resolve()
        return resolved.is_relative_to(git_dir) or resolved.is_relative_to(common)
    return True


def open_repo(path: str | os.PathLike[str] = ".") -> RepoView:
    """Open the git work tree containing `path`.

    Raises `CtxengError` for a missing path, a directory outside any repository, or a bare
    repository. Inside a git hook (GIT_DIR / GIT_INDEX_FILE exported) the hook's variables are
    honoured only when they describe this same repository.
    """
    start = Path(path).expanduser()
    if not start.exists():
        raise CtxengError(f"no such directory: {start}")
    if start.is_file():
        start = start.parent
    start = start.resolve()
    plain_root = _git_path(start, False, "--show-toplevel")
    if plain_root is None:
        raise CtxengError(
            f"not a git repository: {start}",
            hint="run ctxeng inside a git work tree (git init && git add . && git commit)",
        )
    git_dir = _git_path(start, False, "--absolute-git-dir") or plain_root / ".git"
    hooked = any(var in os.environ for var in ("GIT_DIR", "GIT_INDEX_FILE"))
    inherit = hooked and _hook_vars_belong_here(start, git_dir)
    root = plain_root
    git = Git(root, inherit_repo_vars=inherit)
    head, branch, shallow, git_dir = _describe(root, git)
    return RepoView(root=root, git_dir=git_dir, head=head, branch=branch, shallow=shallow, git=git)


def reopen(repo: RepoView) -> RepoView:
    """`repo` with HEAD, branch and shallowness read again (e.g. after waiting for a lock)."""
    head, branch, shallow, git_dir = _describe(repo.root, repo.git)
    view = RepoView(root=repo.root, git_dir=git_dir, head=head, branch=branch, shallow=shallow, git=repo.git)
    if git_dir == repo.git_dir:  # the same index file: its last read stays good while its stamp holds
        view._index_memo = repo._index_memo
    return view


def _describe(root: Path, git: Git) -> tuple[str, str, bool, Path]:
    """HEAD, branch, shallowness and git dir in two git calls (no GitPython: hooks call this)."""
    info = git.run(["rev-parse", "--absolute-git-dir", "--is-bare-repository", "--is-shallow-repository"])
    git_dir_text, bare, shallow = decode(info).strip().split("\n")[-3:]
    if bare == "true":
        raise CtxengError(f"{root} is a bare repository", hint="run ctxeng in a work tree")
    head = decode(git.run(["rev-parse", "-q", "--verify", "HEAD^{commit}"], check=False)).strip()
    branch = decode(git.run(["symbolic-ref", "-q", "--short", "HEAD"], check=False)).strip()
    return head, branch, shallow == "true", Path(git_dir_text)
