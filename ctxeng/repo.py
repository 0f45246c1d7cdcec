"""The repository as ctxeng sees it: its root, HEAD, and the files tracked in its index."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ctxeng.errors import CtxengError
from ctxeng.gitcli import Git, decode

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

    @property
    def name(self) -> str:
        """The repository's name (its directory's name)."""
        return self.root.name

    def index(self) -> list[IndexEntry]:
        """Every index entry, sorted by path; conflicted paths keep their "ours" (stage 2) side."""
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


def _toplevel(path: Path, inherit: bool) -> Path | None:
    git = Git(path, inherit_repo_vars=inherit)
    out = git.run(["rev-parse", "--show-toplevel"], check=False).decode("utf-8", "surrogateescape").strip()
    return Path(out) if out else None


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
    hooked = any(var in os.environ for var in ("GIT_DIR", "GIT_INDEX_FILE"))
    plain_root = _toplevel(start, inherit=False)
    inherit = hooked and plain_root is not None and _toplevel(start, inherit=True) == plain_root
    if plain_root is None:
        raise CtxengError(
            f"not a git repository: {start}",
            hint="run ctxeng inside a git work tree (git init && git add . && git commit)",
        )
    root = plain_root.resolve()
    git = Git(root, inherit_repo_vars=inherit)
    head, branch, shallow, git_dir = _describe(root)
    return RepoView(root=root, git_dir=git_dir, head=head, branch=branch, shallow=shallow, git=git)


def _describe(root: Path) -> tuple[str, str, bool, Path]:
    """HEAD, branch, shallowness and git dir through GitPython, closed before returning."""
    import git as gitpython  # heavy (~120 ms): only `build`-sized paths call open_repo

    try:
        with gitpython.Repo(root) as repo:
            if repo.bare:
                raise CtxengError(f"{root} is a bare repository", hint="run ctxeng in a work tree")
            git_dir = Path(repo.git_dir).resolve()
            try:
                head = repo.head.commit.hexsha
            except ValueError:  # no commit yet: refs/heads/<branch> does not exist
                head = ""
            branch = "" if repo.head.is_detached else repo.head.ref.name
            shallow = (git_dir / "shallow").exists()
    except gitpython.exc.InvalidGitRepositoryError:
        raise CtxengError(f"not a git repository: {root}") from None
    except gitpython.exc.NoSuchPathError:
        raise CtxengError(f"no such directory: {root}") from None
    return head, branch, shallow, git_dir
