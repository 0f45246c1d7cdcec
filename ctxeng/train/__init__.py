"""Adapter training, evaluation, merging and swapping (imports torch lazily, inside each module's functions)."""
