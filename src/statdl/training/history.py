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
        """Training and validation curves, one panel per metric (see ``plot_history``)."""
        from ..plots import plot_history

        return plot_history(self, metrics=metrics, path=path)

    def __repr__(self) -> str:
        if not self.epoch:
            return "History(no epochs)"
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items())
        return f"History({len(self.epoch)} epochs; final {last})"
