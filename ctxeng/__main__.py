"""Entry point for `python -m ctxeng`."""

from ctxeng.cli import main

raise SystemExit(main())
