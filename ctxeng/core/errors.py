"""The one user-facing error type and the exit codes the CLI maps it to."""

from __future__ import annotations

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130


class CtxengError(Exception):
    """A problem the user can fix: printed as one line plus an optional hint, exit code 1.

    Anything that is not a `CtxengError` is a bug and propagates with its traceback.
    """

    exit_code = EXIT_USER_ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message
