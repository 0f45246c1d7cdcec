"""Adapter training, evaluation, merging and swapping (torch & co. are imported lazily, in functions)."""
