"""ctxeng: turn a git repository into context for coding agents (kept import-light on purpose)."""

__version__ = "0.1.0"
