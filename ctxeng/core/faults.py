"""Named pause points where tests and `bench/kill.py` stop a real run to kill it at a chosen stage.

`CTXENG_PAUSE_AT=publish,switched` makes a run print `ctxeng: paused at <point>` to stderr and sleep
`CTXENG_PAUSE_SECONDS` (default 5) at each named point; unset (always, outside tests) it costs one
environment lookup.
"""

from __future__ import annotations

import os
import sys
import time


def pause_point(name: str) -> None:
    """Pause here when `CTXENG_PAUSE_AT` names `name` (see the module docstring)."""
    wanted = os.environ.get("CTXENG_PAUSE_AT")
    if not wanted or name not in wanted.split(","):
        return
    sys.stderr.write(f"ctxeng: paused at {name}\n")
    sys.stderr.flush()
    time.sleep(float(os.environ.get("CTXENG_PAUSE_SECONDS", "5")))
