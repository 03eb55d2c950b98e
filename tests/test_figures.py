"""The README's figures are written only when make figures asks."""

from vgg_edu import figures, paths, runtime


def test_save_figure_writes_only_when_make_figures_asks(monkeypatch, tmp_path):
    saved = []

    class Figure:
        def savefig(self, path, **kw):
            saved.append(path)

    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path)
    monkeypatch.setenv(runtime.FAST_ENV, "0")
    monkeypatch.delenv(figures.SAVE_FIGURES_ENV, raising=False)
    assert figures.save_figure(Figure(), "never") is None and saved == []  # a student's or make course's run
    monkeypatch.setenv(figures.SAVE_FIGURES_ENV, "1")
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    assert figures.save_figure(Figure(), "never") is None and saved == []  # fast mode (CI): never
    monkeypatch.setenv(runtime.FAST_ENV, "0")
    assert figures.save_figure(Figure(), "fig") == tmp_path / "images" / "fig.png" and saved == [
        tmp_path / "images" / "fig.png"
    ]
    monkeypatch.setattr(paths, "repo_root", lambda: None)  # installed outside the repository
    assert figures.save_figure(Figure(), "never") is None and len(saved) == 1
