"""The payloads ctxeng installs, read from the package data in `ctxeng/templates/`."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

TEMPLATE_START = "# start templated\n"
TEMPLATE_END = "# end templated\n"


def template_text(name: str) -> str:
    """The text of `ctxeng/templates/<name>` (a '/'-separated path inside the templates folder)."""
    node = resources.files("ctxeng").joinpath("templates")
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8")


def template_json(name: str) -> Any:
    """A JSON template, parsed."""
    return json.loads(template_text(name))


def fill_block(text: str, lines: list[str]) -> str:
    """Replace the lines between the `# start templated` and `# end templated` markers with `lines`.

    The rest of the template stays byte for byte as shipped, so an installed script can be compared
    with the template it came from.
    """
    before, rest = text.split(TEMPLATE_START, 1)
    _, after = rest.split(TEMPLATE_END, 1)
    body = "".join(f"{line}\n" for line in lines)
    return f"{before}{TEMPLATE_START}{body}{TEMPLATE_END}{after}"
