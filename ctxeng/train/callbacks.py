"""Trainer callbacks: rich progress on stderr, and a Ctrl-C that stops at a step with a saved checkpoint.

Imports transformers at module level, so only the training code imports this module (lazily).
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from typing import Any

from transformers import TrainerCallback


class RichProgress(TrainerCallback):
    """A rich progress bar (step, loss, tokens) on a stderr console; plain log lines when not a terminal."""

    def __init__(self, console: Any, label: str) -> None:
        self.console = console
        self.label = label
        self.bar: Any = None
        self.task: Any = None
        self.loss = ""

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.console.is_terminal:
            self.console.print(f"{self.label}: training {state.max_steps} steps")
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.task = self.bar.add_task(self.label, total=state.max_steps, completed=state.global_step, loss="")
        self.bar.start()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step, loss=self.loss)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not logs or "loss" not in logs:
            return
        self.loss = f"loss {logs['loss']:.4f}"
        if self.bar is None:
            self.console.print(f"{self.label}: step {state.global_step}/{state.max_steps} {self.loss}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step, loss=self.loss)
            self.bar.stop()
            self.bar = None


class StopOnInterrupt(TrainerCallback):
    """Ends training at the next step boundary with a checkpoint once `interrupted` is set."""

    def __init__(self) -> None:
        self.interrupted = False
        self.stopped_at: int | None = None

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.interrupted:
            # The Trainer saves a full checkpoint (adapter, optimizer, scheduler, RNG, state) right
            # after this callback returns, then leaves its loop: `--resume` continues from it.
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step
        return control


@contextlib.contextmanager
def graceful_interrupts(stopper: StopOnInterrupt) -> Iterator[None]:
    """While training: the first Ctrl-C (or SIGTERM) asks for a checkpoint and a stop; a second one aborts."""

    def handler(signum: int, frame: Any) -> None:
        if stopper.interrupted:
            raise KeyboardInterrupt
        stopper.interrupted = True

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for sig in previous:
            signal.signal(sig, handler)
    except ValueError:  # not the main thread: signals cannot be caught here, Ctrl-C aborts as usual
        previous = {}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Meter(TrainerCallback):
    """Steps, tokens and seconds of this `train()` call (a resumed run counts only what it trained)."""

    def __init__(self) -> None:
        self.start_step = self.end_step = 0
        self.start_tokens = self.end_tokens = 0
        self.started = self.seconds = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = time.perf_counter()
        self.start_step, self.start_tokens = state.global_step, int(state.num_input_tokens_seen or 0)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.seconds = time.perf_counter() - self.started
        self.end_step, self.end_tokens = state.global_step, int(state.num_input_tokens_seen or 0)


MIN_DECAY = 0.05  # the learning rate's floor at the end of a decaying time budget, as a share of its rate


class TimeBudget(TrainerCallback):
    """Ends training once the next step, at the slowest recent step time, would end past `seconds`.

    The Trainer then finishes normally, so the adapter is saved and usable. `stopped_at` is the
    step it stopped at (None when the run ended by its step count first). With `decay_share`, the
    last that share of the budget scales the scheduled learning rate down linearly toward 0
    (warmup-stable-decay: a run of unknown step count still ends annealed, not at whatever point
    a constant rate's noise left it).
    """

    def __init__(self, seconds: float, decay_share: float = 0.0) -> None:
        self.seconds = seconds
        self.decay_share = decay_share
        self.factor = 1.0  # what the last step's rate was scaled by
        self.started = self.last = 0.0
        self.recent: list[float] = []
        self.stopped_at: int | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started = self.last = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        now = time.perf_counter()
        self.recent = [*self.recent[-4:], now - self.last]  # a shared machine's step time wanders
        self.last = now
        if now - self.started + max(self.recent) > self.seconds:
            control.should_training_stop = True
            self.stopped_at = state.global_step
        window = self.decay_share * self.seconds
        optimizer, scheduler = kwargs.get("optimizer"), kwargs.get("lr_scheduler")
        if window > 0 and optimizer is not None and scheduler is not None:
            left = self.seconds - (now - self.started)
            self.factor = max(MIN_DECAY, min(1.0, left / window))
            # The scheduler sets each group's rate before the next step; this scales what it set.
            for group, rate in zip(optimizer.param_groups, scheduler.get_last_lr()):
                group["lr"] = rate * self.factor
        return control

    def step_seconds(self) -> float:
        """The mean of the recent step times (0 before the first step)."""
        return sum(self.recent) / len(self.recent) if self.recent else 0.0
