"""Extractors: turn selected files and git history into records (code, history, docs, glossary)."""
