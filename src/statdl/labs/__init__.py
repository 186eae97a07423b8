"""The worked examples of the course, runnable: ``statdl labs`` lists them, ``statdl lab NAME``
runs one.

Each lab is a short module here (``hitters.py``, ``mnist_dense.py``, ``mnist_cnn.py``,
``imdb_rnn.py`` ...) that can be copied as a starting point. A lab prints the model summary,
trains with a progress bar, prints the course's kind of results (caret-style statistics or MSE
and MAE with intervals) and records a run folder (``statdl runs ls`` / ``statdl runs view``)
with ``results.json``, figures in ``plots/`` and an HTML report ``view.html``.

Examples
--------
>>> from statdl.labs import LABS
>>> "mnist-cnn" in LABS
True
>>> results = run_lab("imdb-tokenizer", runs_dir=__import__("tempfile").mkdtemp(),
...                   no_view=True)  # doctest: +ELLIPSIS
Lab imdb-tokenizer: ...
>>> results["sequences"]
[[1, 2, 3, 4, 1, 5], [1, 6, 7, 8, 9]]
"""

from __future__ import annotations

from ._registry import LABS, Lab, get_lab, run_lab

__all__ = ["LABS", "Lab", "get_lab", "run_lab"]
