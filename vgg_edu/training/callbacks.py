"""What happens around the training loop: progress, printed epochs, and stopping early (checkpoints:
``checkpoint.SaveCheckpoint``).

A callback watches a run (``loop.Run``: its model, optimizer, step, history) at three moments. To stop a run
early and cleanly, a callback raises ``StopTraining`` from ``on_step``: the step in progress is complete, ``fit``
closes the epoch's row, saves, and returns the history (fastai's ``CancelFitException``); it never edits the
run's options. Live plots are callbacks too (``vgg_edu.plots.training.LivePlot``): notebooks pass them to ``fit``.
"""

from __future__ import annotations

from tqdm.auto import tqdm


class StopTraining(Exception):
    """Raised by a callback's ``on_step`` to end the run after this step, as if ``max_steps`` had been reached."""


class Callback:
    """What ``fit`` calls as it goes: subclass, override what you need, pass ``fit(..., callbacks=[...])``."""

    def on_step(self, run, loss: float | None) -> None:
        """After every step; ``loss`` is a float on logged steps (every ``log_every``), else None."""

    def on_epoch(self, run, row: dict) -> None:
        """After every epoch (and where a run stopped early ends): ``row`` is the history's new row."""

    def on_stop(self, run, reason: str) -> None:
        """Once, at the end: ``reason`` is "done", "stopped" (``StopTraining``), "interrupted" (Ctrl-C) or
        "error"."""


class ProgressBar(Callback):
    """A tqdm bar per epoch (a widget in Jupyter) with the latest loss and learning rate."""

    bar = None

    def on_step(self, run, loss):
        if self.bar is None:
            self.bar = tqdm(
                total=run.per_epoch,
                initial=run.batch - 1,
                leave=False,
                desc=f"epoch {run.epoch + 1}/{run.config.epochs}",
            )
        self.bar.update(1)
        if loss is not None:
            self.bar.set_postfix(loss=f"{loss:.3f}", lr=f"{run.lr:.3g}")

    def on_epoch(self, run, row):
        self.on_stop(run, "epoch")

    def on_stop(self, run, reason):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class PrintEpochs(Callback):
    """One line per epoch: loss, accuracies, throughput, time."""

    def on_epoch(self, run, row):
        val = f"{row['val_acc']:.4f}" if row["val_acc"] is not None else "-"
        print(
            f"epoch {row['epoch']:.2f}: loss {row['train_loss']:.4f}, train acc {row['train_acc']:.4f}, "
            f"val acc {val}, {row['examples_per_s']:.0f} examples/s, {row['wall_s']:.0f} s"
        )


class KeepHistory(Callback):
    """Keeps the run's history, so that a run stopped by an error (a diverged loss, say) can still be shown."""

    history = None

    def on_stop(self, run, reason):
        self.history = run.history
