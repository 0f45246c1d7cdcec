"""One definition line of a prompt's context: the qualified name, its `path:line`, then signature and doc.

Shared by `ctxeng context` (the Definitions section) and the dataset's grounded rows, so a model
trained on grounded rows reads the same layout at answer time. Name and `path:line` open every
line (no per-file heading to look back to), the name first: a small model answering "where is
`Session.cookies` defined?" writes the name and then copies what follows it in the context.
"""

from __future__ import annotations


def definition_line(path: str, line: int, qualname: str, signature: str = "", doc: str = "") -> str:
    """`- `Qual.name` `path:line` `signature` — doc` (signature left out when it is just the name)."""
    sig = " ".join(signature.split())
    text = f"- `{qualname}` `{path}:{line}`" + (f" `{sig}`" if sig and sig != qualname else "")
    return text + (f" — {doc}" if doc else "") + "\n"
