"""Notebook 04's figures: history, confusion, misclassified images, schedules, accuracy against time."""

import matplotlib.pyplot as plt
import pytest

from vgg_edu import plots
from vgg_edu.training.evaluation import evaluate
from vgg_edu.training.loop import fit
from vgg_edu.training.optim import schedule_curve

from conftest import small_model, tiny_data

pytestmark = pytest.mark.usefixtures("close_figures")


def test_training_figures_draw(one_thread):
    ds = tiny_data(n_val=24)
    model = small_model()
    h = fit(model, ds, epochs=2, batch_size=32, lr=0.01, quiet=True)
    ev = evaluate(model, ds, "test", details=True)
    loss_ax, acc_ax = plots.training.plot_history(h).axes
    assert [line.get_label() for line in acc_ax.lines] == ["train", "validation"]
    assert acc_ax.lines[1].get_ydata().tolist() == [r["val_acc"] for r in h.epochs]
    assert len(plots.training.plot_confusion(ev.confusion()).axes) == 2  # the matrix and its colour bar
    wrong = int((ev.predictions != ev.labels).sum())
    fig = plots.training.plot_misclassified(ds.test_images, ev, k=8)
    assert sum(1 for ax in fig.axes if ax.images) == min(8, wrong)
    fig = plots.training.plot_time_vs_accuracy({"a": h})
    assert fig.axes[0].lines[0].get_ydata().tolist() == [r["val_acc"] for r in h.epochs]
    assert len(plots.training.plot_samples(ds, per_class=2).axes) == 20
    assert plots.training.plot_resized(64, 0, ds).axes[1].images[0].get_array().shape == (64, 64)


def test_live_plot_draws_the_run_under_its_title(one_thread):
    """The live figure is the history figure with the title saying what was run, at every redraw and at the end."""
    live = plots.training.LivePlot(title="tiny run, 1 epoch")
    fit(small_model(), tiny_data(n_val=24), epochs=1, batch_size=32, lr=0.01, quiet=True, callbacks=[live])
    assert live.fig._suptitle.get_text() == "tiny run, 1 epoch"
    assert [ax.get_title() for ax in live.fig.axes] == ["loss", "accuracy"]
    assert live.fig.axes[1].lines[0].get_ydata().size == 1  # the epoch's train accuracy


def test_schedule_plot_draws_each_curve_with_an_epoch_axis():
    curves = {name: schedule_curve(name, 40, 0.1) for name in ("constant", "onecycle")}
    fig = plots.training.plot_schedules(curves, title="two schedules", steps_per_epoch=10)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["constant", "onecycle"]
    assert list(ax.lines[1].get_ydata()) == pytest.approx(curves["onecycle"])
    assert (
        ax.get_xlabel() == "optimizer step" and ax.get_ylabel() == "learning rate" and ax.get_title() == "two schedules"
    )
    assert any(a.get_xlabel() == "epoch" for a in fig.axes[0].child_axes)
    plt.close(fig)


def test_accuracy_curves_draw_validation_and_test_per_run():
    rows = [dict(wall_s=10.0 * i, val_acc=0.8 + 0.01 * i, test_acc=0.79 + 0.01 * i) for i in range(1, 4)]
    fig = plots.training.plot_accuracy_curves({"a": rows}, targets=(0.92,))
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines[:2]] == ["a: validation", "a: test"]
    assert list(ax.lines[1].get_ydata()) == pytest.approx([0.80, 0.81, 0.82])
    assert list(ax.lines[0].get_xdata()) == [10.0, 20.0, 30.0] and "wall time (s)" in ax.get_xlabel()
    plt.close(fig)
