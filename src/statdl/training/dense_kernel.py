"""Old name of :mod:`statdl.training.dense_step`, kept so that code importing it still runs.

The hand-written Dense training step is now ``statdl.training.dense_step.DenseStackStep``;
"kernel" in statdl means only Keras's weight matrix (``Dense.kernel``).

Examples
--------
>>> from statdl.training.dense_kernel import DenseStackKernel
>>> from statdl.training.dense_step import DenseStackStep
>>> DenseStackKernel is DenseStackStep
True
"""

from .dense_step import DenseStackStep

DenseStackKernel = DenseStackStep

__all__ = ["DenseStackStep", "DenseStackKernel"]
