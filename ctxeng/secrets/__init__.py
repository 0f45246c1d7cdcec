"""The secret stage: redaction rules and file-level drops, applied before anything is written."""

from __future__ import annotations

from typing import Any

from ctxeng.secrets.files import secret_file_rule

__all__ = ["Finding", "Redactor", "Scanner", "find_secrets", "secret_file_rule"]

# `ctxeng.extract.selection` imports this package for `secret_file_rule`; the rule engine (re2) loads on first use.
_LAZY = {"Finding": "scanner", "Scanner": "scanner", "find_secrets": "scanner", "Redactor": "redact"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"ctxeng.secrets.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'ctxeng.secrets' has no attribute {name!r}")
