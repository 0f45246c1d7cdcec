"""One definition line of a prompt's context: `path:line`, the qualified name, then signature and doc.

Shared by the `lines` layout of the prompt context (what `ask`, `serve` grounding and the eval
retrieve) and the dataset's grounded rows, so a model trained on grounded rows reads the same
layout at answer time; agents get the default `files` layout, one `### path` heading per file. The path and qualified name come
first on every line (no per-file heading to look back to): a small model answering "where is
`Session.cookies` defined?" copies the path next to the name it matched.
"""

from __future__ import annotations


def definition_line(path: str, line: int, qualname: str, signature: str = "", doc: str = "") -> str:
    """`- `path:line` `Qual.name` `signature` — doc` (signature left out when it is just the name)."""
    sig = " ".join(signature.split())
    text = f"- `{path}:{line}` `{qualname}`" + (f" `{sig}`" if sig and sig != qualname else "")
    return text + (f" — {doc}" if doc else "") + "\n"
