"""Entry point for `python -m ctxeng`."""

try:
    from ctxeng.cli import main
except KeyboardInterrupt:  # Ctrl-C while the CLI is still importing: nothing ran yet
    raise SystemExit(130) from None

raise SystemExit(main())
