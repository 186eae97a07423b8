"""The names #15 settled: one canonical name each, the old ones kept working as aliases."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import activations
from statdl.layers import recurrent_cells


@pytest.mark.parametrize("old, new, names", [
    ("statdl.plots.evaluation", "statdl.plots.classification",
     ["plot_confusion_matrix", "plot_roc", "plot_calibration"]),
    ("statdl.plots.training", "statdl.plots.learning_curves", ["plot_history", "history_frame"]),
])
def test_plot_modules_that_read_as_packages_moved_and_the_old_paths_still_import(old, new,
                                                                                  names):
    before, after = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(before, name) is getattr(after, name)
        assert getattr(sd.plots, name, getattr(after, name)) is getattr(after, name)


@pytest.mark.parametrize("make, shape", [
    (lambda: sd.layers.Dense(4), (3,)),
    (lambda: sd.layers.Conv2D(2, 3), (8, 8, 1)),
    (lambda: sd.layers.LSTM(5), (7, 3)),
    (lambda: sd.layers.BatchNormalization(), (6,)),
])
def test_output_shape_and_param_count_are_aliases_of_the_keras_names(make, shape):
    layer = make()
    assert layer.output_shape(shape) == tuple(layer.compute_output_shape(shape))
    assert layer.param_count(shape) == layer.count_params(shape)
    # the count is Keras's: the weights the built layer really holds
    layer.build(shape)
    assert layer.count_params() == sum(int(np.prod(w.shape)) for w in layer.get_weights())


def test_one_activation_class_per_role():
    """``statdl.layers.Activation`` is the layer; the torch module it builds is
    ``activations.ActivationModule`` (its old name ``activations.Activation`` still works)."""
    layer = sd.layers.Activation("tanh")
    module = layer.build((3,))
    assert type(module) is activations.ActivationModule is activations.Activation
    x = torch.linspace(-2, 2, 6).reshape(2, 3)
    torch.testing.assert_close(module(x), torch.tanh(x))
    assert sd.layers.Activation is not activations.ActivationModule


def test_recurrent_cells_have_no_mask_code_of_their_own():
    from statdl.layers import dropout_masks

    assert recurrent_cells.inverted_mask is dropout_masks.inverted_mask
    assert not hasattr(recurrent_cells, "_dropout_mask")


def test_model_output_shape_is_keras_property_and_the_old_forms_still_work():
    """``model.output_shape`` is Keras's property (batch axis ``None``; a list for several
    outputs, as Keras 3 gives ``[(None, 2), (None, 5)]``); ``output_shape_`` is the same without
    the batch axis, and calling ``output_shape(input_shape)`` is the old method."""
    seq = sd.Sequential([sd.layers.Dense(8), sd.layers.Dense(3)], input_shape=(4,))
    assert seq.output_shape == (None, 3) and seq.output_shape_ == (3,)
    assert seq.output_shape((9,)) == (3,) == tuple(seq.compute_output_shape((9,)))
    inputs = sd.Input((4,))
    two = sd.Model(inputs, [sd.layers.Dense(2)(inputs), sd.layers.Dense(5)(inputs)])
    assert two.output_shape == [(None, 2), (None, 5)]
    assert two.output_shape_ == [(2,), (5,)]
    assert list(two.output_shape((4,))) == [(2,), (5,)]
    nested = sd.Sequential([seq, sd.layers.Dense(1)], input_shape=(4,))  # a model as a layer
    assert nested.output_shape == (None, 1) and nested.count_params() == 40 + 27 + 4
    with pytest.raises(sd.errors.NotFittedError, match="input shape"):
        sd.Sequential([sd.layers.Dense(3)]).output_shape  # noqa: B018


@pytest.mark.parametrize("old, new, names", [
    ("statdl.tuning.tuning", "statdl.tuning.grid_runs", ["tuning_run"]),
    ("statdl.tuning.callback", "statdl.tuning.fit_hook", ["RunMetricsCallback", "run_callbacks"]),
    ("statdl.tuning.progress", "statdl.tuning.grid_progress", ["GridProgress"]),
    ("statdl.training.progress", "statdl.training.epoch_progress", ["EpochProgress"]),
    ("statdl.labs.autoencoders", "statdl.labs.mnist_autoencoders", ["course_autoencoder"]),
    ("statdl.tuning.runs", "statdl.run_folders.folders", ["as_run_dir", "check_runs_dir"]),
    ("statdl.tuning.listing", "statdl.run_folders.listing", ["ls_runs", "best_run"]),
    ("statdl.tuning.recording", "statdl.run_folders.recording", ["report", "report_epoch"]),
    ("statdl.tuning.views", "statdl.reports.pages", ["save_run_view"]),
    ("statdl.training.dense_kernel", "statdl.training.dense_step", ["DenseStackStep"]),
])
def test_modules_that_shadowed_their_package_moved_and_the_old_paths_still_import(old, new,
                                                                                   names):
    """#15's renames: a module named like its package (tuning/tuning.py), two progress.py,
    tuning/callback.py beside training/callbacks.py, labs/autoencoders.py beside the
    autoencoders package; the old import paths are the same objects."""
    before, after = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(before, name) is getattr(after, name)
