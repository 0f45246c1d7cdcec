"""The index's search terms of names and texts seen by earlier builds, so a rebuild splits only new ones.

`build_index` turns every definition name, docstring sentence, path, doc heading and body and commit
subject into stemmed terms (`ctxeng.pack.terms`): on sqlalchemy ~60k strings, over a third of the
index's CPU, and after a one-file commit nearly all of them are strings the last build split. The
terms are a pure function of the string (and the limit, for prose) and of the code in
`ctxeng.pack.terms`, so they are stored by the string itself under a salt of that code: a hit is what
splitting gives. The file holds exactly what the last build used. A torn or unreadable one is empty.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ctxeng import __version__
from ctxeng.core.cache import CacheTable
from ctxeng.pack.terms import name_terms, text_terms

MEMO_FILE = "cache/pack/index-terms.json"


@functools.cache
def _salt() -> str:
    from ctxeng.core.digest_memo import source_version
    from ctxeng.pack import terms

    return f"{__version__}\0index-terms-1\0{source_version(str(terms.__file__), __file__)}"


def _table(entries: dict[str, Any], key: str) -> dict[str, list[str]]:
    value = entries.get(key)
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if type(v) is list}


class Terms:
    """`name_terms` and `text_terms` as `build_index` calls them, through the stored table when given."""

    def __init__(self, out_dir: Path | None = None) -> None:
        self.out_dir = out_dir  # the build's output folder: the index's other memos live there too
        self.table = CacheTable(out_dir / MEMO_FILE, _salt()) if out_dir is not None else None
        entries = self.table.entries if self.table is not None else {}
        self._old_names, self._old_texts = _table(entries, "names"), _table(entries, "texts")
        self.names: dict[str, list[str]] = {}  # what this build used: the table it leaves
        self.texts: dict[str, list[str]] = {}
        self.new = 0

    def name(self, name: str) -> list[str]:
        """`name_terms(name)`."""
        got = self.names.get(name)
        if got is None:
            got = self._old_names.get(name)
            if got is None:
                got, self.new = name_terms(name), self.new + 1
            self.names[name] = got
        return got

    def text(self, text: str, limit: int) -> list[str]:
        """`text_terms(text, limit)`."""
        key = f"{limit}\0{text}"
        got = self.texts.get(key)
        if got is None:
            got = self._old_texts.get(key)
            if got is None:
                got, self.new = text_terms(text, limit), self.new + 1
            self.texts[key] = got
        return got

    def save(self) -> None:
        """Store what this build used, when it split something new or left much unused."""
        if self.table is None:
            return
        unused = len(self._old_names) + len(self._old_texts) - len(self.names) - len(self.texts)
        if self.new or unused > 0:
            self.table.put("names", self.names)
            self.table.put("texts", self.texts)
            self.table.save({"names", "texts"})
