"""The model engine: one base model with every served adapter, a bounded queue and one generation thread.

The base is loaded once and wrapped by PEFT with each adapter under its name; a request's model name
picks the adapter (`base` runs with adapters disabled). Switching adapters changes the shared model,
so generations run one at a time on a single worker thread (torch releases the GIL, so the event
loop keeps serving meanwhile); waiting requests sit in a bounded queue and anything beyond it is
refused at once (`Overloaded`, HTTP 503) rather than piling up. Text is handed out while it is
generated, through a callback, and a cancelled job (a client that went away) stops at the next token.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.serve.protocol import ApiError, Sampling

BASE = "base"  # the model name that selects the base model without any adapter
PIECE_CHARS = 16_384  # long prompts are counted in pieces of this many characters before tokenizing

#: emit(kind, payload): ("text", str) pieces while generating, then ("done", Outcome) or ("error", str).
Emit = Callable[[str, Any], None]


class Overloaded(Exception):
    """Raised by `Engine.submit` when the generation slot and the queue are full."""


@dataclass
class Outcome:
    """How a generation ended: the full text, why it stopped, and token counts."""

    text: str
    finish: str  # "stop" (end of answer or a stop string) | "length" (max_tokens reached)
    prompt_tokens: int
    completion_tokens: int


@dataclass(eq=False)  # identity: jobs live in a set
class Job:
    """One generation request on its way through the queue."""

    model: str
    input_ids: list[int]
    sampling: Sampling
    emit: Emit
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Stop this job at the next token (or skip it if it has not started)."""
        self.cancelled.set()


class Engine:
    """A loaded base model with adapters, and the worker that runs generations one at a time."""

    def __init__(
        self, model: Any, tokenizer: Any, adapters: Sequence[str], root_name: str, max_queue: int = 8
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.adapters = list(adapters)
        self.root_name = root_name  # what the base is called in /v1/models `root`
        self.root: Path | None = None  # the repository requests may be grounded in (`serve.grounding`)
        self.max_queue = max_queue
        self.created = int(time.time())
        config = getattr(model, "config", None)
        self.max_context = int(getattr(config, "max_position_embeddings", 0) or 4096)
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._waiting = 0
        self._busy = False
        self._closed = False
        self._jobs: set[Job] = set()  # submitted and not finished: close() cancels them
        self._worker = threading.Thread(target=self._work, name="ctxeng-generate", daemon=True)
        self._worker.start()

    @property
    def names(self) -> list[str]:
        """Model names a request may use: `base` and every adapter."""
        return [BASE, *self.adapters]

    def load_state(self) -> dict[str, int]:
        """What the engine is doing: running (0/1), waiting, and the most that may wait."""
        with self._lock:
            return {"running": int(self._busy), "waiting": self._waiting, "max_waiting": self.max_queue}

    # -- prompts -----------------------------------------------------------------------------------

    def chat_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of `messages` in the model's chat template, ready for the assistant's turn."""
        try:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as exc:  # templates raise anything (jinja errors, role checks)
            raise ApiError(
                400, f"the model's chat template rejects these messages: {exc}", "messages"
            ) from None
        return self.text_ids(str(text))

    def text_ids(self, text: str) -> list[int]:
        """Token ids of a raw prompt (the chat template already holds any special tokens).

        A long text is first counted piece by piece, and refused as soon as the count shows it cannot
        fit the context: a 3 MB prompt costs a few pieces, not 14 s of tokenizing to be refused anyway.
        """
        if len(text) > 4 * PIECE_CHARS:
            self._check_length(text)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _check_length(self, text: str) -> None:
        count = 0
        for n, start in enumerate(range(0, len(text), PIECE_CHARS)):
            count += len(
                self.tokenizer(text[start : start + PIECE_CHARS], add_special_tokens=False)["input_ids"]
            )
            if count - n > self.max_context:  # a cut between pieces may split a token: one extra per cut
                raise ApiError(
                    400,
                    f"the prompt has more than {self.max_context} tokens, all the model's context holds",
                    "messages",
                    "context_length_exceeded",
                )

    def check_model(self, name: str) -> None:
        """Raise a 404 `ApiError` for a model name this engine does not serve."""
        if name not in self.names:
            raise ApiError(
                404,
                f"the model '{name}' does not exist; served: {', '.join(self.names)}",
                "model",
                "model_not_found",
            )

    def fit(self, input_ids: list[int], sampling: Sampling) -> Sampling:
        """`sampling` with max_tokens cut to the room the context window leaves (400 if there is none)."""
        room = self.max_context - len(input_ids)
        if room < 1:
            raise ApiError(
                400,
                f"the prompt has {len(input_ids)} tokens; the model's context holds {self.max_context}",
                "messages",
                "context_length_exceeded",
            )
        if sampling.max_tokens <= room:
            return sampling
        return Sampling(
            **{**sampling.__dict__, "max_tokens": room, "min_tokens": min(sampling.min_tokens, room)}
        )

    # -- queue -------------------------------------------------------------------------------------

    def reserve(self) -> None:
        """Take a place in the queue before the prompt is tokenized (which costs time), or raise
        `Overloaded`: a full server refuses at once, without tokenizing anything.

        Follow with `submit(job, reserved=True)`, or `release()` if the request fails meanwhile.
        """
        with self._lock:
            if self._closed or self._waiting + int(self._busy) >= 1 + self.max_queue:
                raise Overloaded
            self._waiting += 1

    def release(self) -> None:
        """Give back a place taken by `reserve` for a request that will not be submitted."""
        with self._lock:
            self._waiting -= 1

    def submit(self, job: Job, reserved: bool = False) -> None:
        """Queue `job` (in the place `reserve` took, with `reserved`), or raise `Overloaded` when one
        generation runs and `max_queue` already wait."""
        if not reserved:
            self.reserve()
        with self._lock:
            if self._closed:
                self._waiting -= 1
                raise Overloaded
            self._jobs.add(job)
        self._queue.put(job)

    def stop(self) -> None:
        """Refuse new jobs and cancel every job: the running one stops at its next token and still
        reports how far it got, waiting ones are skipped. Returns at once (the server calls this when
        shutdown starts, so answers end while their requests can still be answered)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for job in self._jobs:
                job.cancel()
        self._queue.put(None)

    def close(self, timeout: float = 30.0) -> None:
        """`stop`, then wait for the worker to end.

        Joining matters: a worker thread still alive at interpreter exit can abort the process
        inside torch's thread teardown ("terminate called without an active exception").
        """
        self.stop()
        if self._worker is not threading.current_thread():
            self._worker.join(timeout)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                self._waiting -= 1
                self._busy = True
            try:
                if job.cancelled.is_set():
                    job.emit("error", "cancelled before it started")  # its client went away, or shutdown
                else:
                    job.emit("done", self.generate(job))
            except Exception as exc:  # reported to the request; the server keeps serving
                job.emit("error", f"{type(exc).__name__}: {exc}")
            finally:
                with self._lock:
                    self._busy = False
                    self._jobs.discard(job)

    # -- generation --------------------------------------------------------------------------------

    def generate(self, job: Job) -> Outcome:
        """Run one generation on the calling thread, emitting text as it grows (the worker calls this)."""
        import torch
        from transformers import GenerationConfig, StoppingCriteriaList

        s = job.sampling
        watcher = _Watcher(self.tokenizer, len(job.input_ids), s.stop, job)
        config = GenerationConfig(
            max_new_tokens=s.max_tokens,
            min_new_tokens=s.min_tokens or None,
            do_sample=s.temperature > 0,
            temperature=s.temperature if s.temperature > 0 else None,
            top_p=s.top_p if s.temperature > 0 else None,
            top_k=0 if s.temperature > 0 else None,  # OpenAI semantics: no top-k cut
            eos_token_id=self.tokenizer.eos_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        ids = torch.tensor([job.input_ids], dtype=torch.long, device=self.model.device)
        with torch.inference_mode(), self._adapter(job.model):
            if s.seed is not None and s.temperature > 0:
                torch.manual_seed(s.seed)  # one worker thread: the global generator is ours
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([watcher]),
            )
        new = out[0, len(job.input_ids) :].tolist()
        return watcher.finish(new, s.max_tokens)

    def _adapter(self, name: str) -> contextlib.AbstractContextManager[Any]:
        if not self.adapters:
            return contextlib.nullcontext()
        if name == BASE:
            return self.model.disable_adapter()  # type: ignore[no-any-return]
        self.model.set_adapter(name)
        return contextlib.nullcontext()


class _Watcher:
    """A stopping criterion that also streams: after each token it decodes the answer so far, emits the
    new text, and stops on a stop string or a cancelled job.

    Text that could be the start of a stop string, or an incomplete UTF-8 character, is held back
    until the next token decides it.
    """

    def __init__(self, tokenizer: Any, prompt_len: int, stops: list[str], job: Job) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.stops = stops
        self.hold = max((len(s) for s in stops), default=1) - 1
        self.job = job
        self.sent = 0
        self.stopped_at: int | None = None  # character offset of a stop string found in the text

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        text = self._decode(input_ids[0, self.prompt_len :].tolist())
        self._emit(text, final=False)
        done = self.job.cancelled.is_set() or self.stopped_at is not None
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool)

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _emit(self, text: str, final: bool) -> None:
        if self.stopped_at is None:
            hits = [text.find(s, max(0, self.sent - len(s))) for s in self.stops]
            found = [h for h in hits if h >= 0]
            if found:
                self.stopped_at = min(found)
        if self.stopped_at is not None:
            end = self.stopped_at
        elif final:
            end = len(text)
        else:
            end = len(text) - self.hold
            while end > self.sent and text[end - 1] == "\ufffd":  # a character still being decoded
                end -= 1
        if end > self.sent:
            self.job.emit("text", text[self.sent : end])
            self.sent = end

    def finish(self, new_ids: list[int], max_tokens: int) -> Outcome:
        """Flush the held-back text and say why generation ended."""
        special = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        ended = bool(new_ids) and new_ids[-1] in special
        count = len(new_ids) - int(ended)
        text = self._decode(new_ids)
        self._emit(text, final=True)
        if self.stopped_at is not None:
            text = text[: self.stopped_at]
        finish = "length" if count >= max_tokens and not ended and self.stopped_at is None else "stop"
        return Outcome(text=text, finish=finish, prompt_tokens=self.prompt_len, completion_tokens=count)


def load_engine(
    root: Path, adapters: Sequence[str] = (), base: str | None = None, max_queue: int = 8, threads: int = 0
) -> Engine:
    """Load the base model once with `adapters` (default: every adapter of the repository at `root`).

    With `base` and no adapters, only that base model is served. Adapters must share one base.
    """
    from ctxeng.train.adapters import list_adapters, load_adapters, load_base_for

    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    if base and adapters:
        raise CtxengError(
            "--base serves a base model alone; adapters bring their own base", hint="drop --base"
        )
    if base:
        from ctxeng.train.models import load_model, load_tokenizer, resolve_base

        resolved = resolve_base(base, download=True)  # named on the command line: may be fetched
        model = _placed(load_model(resolved))
        model.eval()
        engine = Engine(model, load_tokenizer(resolved), [], base, max_queue)
        engine.root = root
        return engine
    names = list(adapters) or [a.name for a in list_adapters(root)]
    if not names:
        raise CtxengError(
            f"no adapters to serve in {root / '.ctxeng' / 'adapters'}",
            hint="train one with `ctxeng train`, or serve a base model alone with --base MODEL",
        )
    base_model, tokenizer = load_base_for(root, names)
    model = load_adapters(_placed(base_model), names, root)
    served = list(model.peft_config)  # the folder names (a path given as --adapter is named by its folder)
    if BASE in served:
        raise CtxengError(
            f"an adapter is named '{BASE}', which means the plain base model here",
            hint="rename its folder under .ctxeng/adapters/",
        )
    root_name = str(getattr(base_model, "name_or_path", "") or "base")
    engine = Engine(model, tokenizer, served, root_name, max_queue)
    engine.root = root
    return engine


def _placed(model: Any) -> Any:
    """The model on the GPU when there is one (adapters loaded afterwards follow it), else as loaded."""
    import torch

    return model.to("cuda") if torch.cuda.is_available() and model.device.type == "cpu" else model
