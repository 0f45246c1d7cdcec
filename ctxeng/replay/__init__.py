"""Replay recent commits to measure how much of what the next change touches ctxeng's context names."""
