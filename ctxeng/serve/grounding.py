"""Opt-in grounding for `ctxeng serve`: put ctxeng's retrieved context before a chat request's question.

A request asks for it either in its body, `"ctxeng": {"context": true, "budget": 700}` (OpenAI
clients send it through `extra_body`), or by model name: `<adapter>+context` is the adapter with
grounding on, so a local agent configured with that model name gets repository-aware answers
without any client change. The last user message is the question; its context comes from the
repository's index (`ctxeng context`), laid out as the adapter's grounded training rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctxeng.serve.protocol import ApiError

SUFFIX = "+context"
DEFAULT_BUDGET = 700  # tokens of context: what the knowledge eval's grounded questions use
MAX_BUDGET = 8_000


def requested(data: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """The request body with a `+context` model suffix removed, and the context budget (None: off)."""
    model = data.get("model")
    option = data.get("ctxeng")
    budget: int | None = None
    if isinstance(model, str) and model.endswith(SUFFIX) and len(model) > len(SUFFIX):
        data = {**data, "model": model[: -len(SUFFIX)]}
        budget = DEFAULT_BUDGET
    if option is not None:
        if not isinstance(option, dict) or not isinstance(option.get("context", True), bool):
            raise ApiError(
                400, '\'ctxeng\' must be an object like {"context": true, "budget": 700}', "ctxeng"
            )
        if option.get("context", True):
            value = option.get("budget", budget or DEFAULT_BUDGET)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BUDGET:
                raise ApiError(
                    400, f"'ctxeng.budget' must be an integer in [1, {MAX_BUDGET}]", "ctxeng.budget"
                )
            budget = value
        else:
            budget = None
    return data, budget


def ground(root: Path | None, messages: list[dict[str, str]], budget: int) -> list[dict[str, str]]:
    """`messages` with the last user message grounded by the repository's context for it.

    Blocking (reads the index): call it off the event loop. A 400 `ApiError` when the server has no
    repository index to retrieve from or the request has no user message.
    """
    from ctxeng.core.errors import CtxengError
    from ctxeng.dataset.templates import grounded_user
    from ctxeng.pack import context_for_prompt

    last = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
    if last < 0:
        raise ApiError(400, "grounding needs a user message to retrieve context for", "messages")
    if root is None:
        raise ApiError(400, "this server has no repository to retrieve context from", "ctxeng")
    question = messages[last]["content"]
    try:
        context = context_for_prompt(root, question, budget, layout="lines")
    except CtxengError as exc:
        raise ApiError(400, f"no context to ground with: {exc.message}", "ctxeng") from None
    grounded = dict(messages[last], content=grounded_user(context, question))
    out = [*messages[:last], grounded, *messages[last + 1 :]]
    if not any(m["role"] == "system" for m in out):  # the system message the adapter was trained with
        from ctxeng.dataset.builder import system_message

        out.insert(0, {"role": "system", "content": system_message(root.name)})
    return out
