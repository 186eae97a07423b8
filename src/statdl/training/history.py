"""Training history: per-epoch values of the loss, metrics and learning rate."""

from __future__ import annotations

import pandas as pd

__all__ = ["History"]


class History:
    """What ``fit`` returns: ``history[name]`` is the list of per-epoch values.

    Attributes
    ----------
    history : dict[str, list[float]]
        ``loss``, ``val_loss``, each metric and ``val_`` metric, ``learning_rate``.
    epoch : list[int]
        Zero-based epoch indices (they continue across repeated ``fit`` calls).
    params : dict
        ``epochs``, ``steps``, ``batch_size``, ``samples``, ``verbose``.

    Examples
    --------
    >>> h = History(); h.append(0, {"loss": 0.5}); h.append(1, {"loss": 0.25})
    >>> h.to_frame()["loss"].tolist()
    [0.5, 0.25]
    """

    def __init__(self, params: dict | None = None):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict = dict(params or {})

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        """Record one epoch's values (missing names are padded with NaN)."""
        n = len(self.epoch)
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, [float("nan")] * n).append(float(value))
        for values in self.history.values():
            if len(values) < n + 1:
                values.append(float("nan"))

    def __getitem__(self, name: str) -> list[float]:
        return self.history[name]

    def __len__(self) -> int:
        return len(self.epoch)

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch (1-based ``epoch`` column, as R's keras shows it)."""
        frame = pd.DataFrame(self.history)
        frame.insert(0, "epoch", [e + 1 for e in self.epoch])
        return frame

    def plot(self, metrics=None, path=None):
        """Training and validation curves, one panel per metric (see ``plot_history``).

        In a notebook the figure shows inline. In a script, with ``path`` the figure is saved
        there; without, it opens in a window when pyplot runs an interactive backend, and is
        otherwise saved to a temporary PNG whose path is printed.
        """
        from ..plots import plot_history

        fig = plot_history(self, metrics=metrics, path=path)
        if path is None:
            _show_outside_notebook(fig)
        return fig

    def _final(self) -> list[tuple[str, str, str]]:
        """(name, final value, best value and its 1-based epoch) as printed."""
        rows = []
        for name, values in self.history.items():
            finite = [(v, i) for i, v in enumerate(values) if v == v]
            if not finite:
                rows.append((name, f"{values[-1]:.4g}", ""))
                continue
            pick = max if _higher_is_better(name) else min
            best, i = pick(finite)
            rows.append((name, f"{values[-1]:.4g}", f"{best:.4g} (epoch {self.epoch[i] + 1})"))
        return rows

    def __repr__(self) -> str:
        if not self.epoch:
            return "History(no epochs)"
        last = ", ".join(f"{name}={final}" for name, final, _ in self._final())
        return f"History({len(self.epoch)} epochs; final {last})"

    def _repr_html_(self) -> str:
        """For Jupyter: the curves (an embedded PNG) and each value's final and best epoch."""
        from ..display import figure_html, figures_shown_inline, html_table, wrap
        from ..plots import plot_history

        if not self.epoch:
            return wrap("<p>History(no epochs)</p>")
        table = html_table(self._final(), header=["final", "best (epoch)"],
                           caption=f"History: {len(self.epoch)} epochs")
        try:
            with figures_shown_inline(False):
                fig = plot_history(self)
        except ValueError:  # nothing a curve can be drawn of: the table alone
            return wrap(table)
        return wrap(table, figure_html(fig, alt="training curves"))


def _higher_is_better(name: str) -> bool:
    base = name[4:] if name.startswith("val_") else name
    return any(w in base for w in ("acc", "auc", "precision", "recall", "r2", "r_squared"))


def _show_outside_notebook(fig) -> None:
    """A window when pyplot runs an interactive backend, else a temporary PNG (path printed).

    In a notebook the plotting function has already shown the figure inline.
    """
    import sys
    import tempfile

    from ..display import in_kernel

    if in_kernel():
        return
    pyplot = sys.modules.get("matplotlib.pyplot")  # only a program that uses pyplot gets windows
    if pyplot is not None and _interactive(pyplot.get_backend()):
        from matplotlib._pylab_helpers import Gcf

        # a window of pyplot's own backend for this figure (pyplot.figure() cannot adopt a
        # figure made without it); Gcf is matplotlib's registry of the windows show() opens
        manager = pyplot._get_backend_mod().FigureCanvas.new_manager(fig, id(fig))
        Gcf._set_new_active_manager(manager)
        pyplot.show()
        return
    handle, name = tempfile.mkstemp(prefix="statdl-history-", suffix=".png")
    with open(handle, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    print(f"History plot saved to {name} (no window: pyplot is not running an interactive "
          "backend; pass path= to choose the file).")



def _interactive(backend: str) -> bool:
    from matplotlib.backends import BackendFilter, backend_registry

    return backend.lower() in backend_registry.list_builtin(BackendFilter.INTERACTIVE)
