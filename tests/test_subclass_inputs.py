"""A model subclassed the Keras way (``call``) with several inputs: ``fit``, ``evaluate`` and
``predict`` take a list, a tuple or a dict of arrays, as Keras's do, and ``call`` gets a list
(or the dict, by name). References: numpy / plain torch computations with the same weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError


class WideDeep(sd.Model):
    """Numeric columns through a Dense layer, integer codes through an Embedding."""

    def __init__(self):
        super().__init__()
        self.deep = L.Dense(4, activation="relu")
        self.embed = L.Embedding(5, 2)
        self.flat = L.Flatten()
        self.join = L.Concatenate()
        self.head = L.Dense(1)
        self.seen: list[str] = []

    def call(self, inputs):
        self.seen.append(type(inputs).__name__)
        if isinstance(inputs, dict):
            numeric, codes = inputs["numeric"], inputs["codes"]
        else:
            numeric, codes = inputs
        return self.head(self.join([self.deep(numeric), self.flat(self.embed(codes))]))


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, 3)).astype(np.float32)
    codes = rng.integers(0, 5, (n, 2))
    y = (numeric.sum(axis=1) + (codes[:, 0] == 2)).astype(np.float32)
    return numeric, codes, y


def _numpy_forward(model, numeric, codes):
    w, b = model.deep.get_weights()
    (table,) = model.embed.get_weights()
    v, c = model.head.get_weights()
    joined = np.concatenate([np.maximum(numeric @ w + b, 0),
                             table[codes].reshape(len(codes), -1)], axis=1)
    return joined @ v + c


@pytest.mark.parametrize("form", ["list", "tuple", "dict"])
def test_fit_evaluate_predict_take_a_list_a_tuple_or_a_dict(form):
    numeric, codes, y = _data()
    x = {"list": [numeric, codes], "tuple": (numeric, codes),
         "dict": {"numeric": numeric, "codes": codes}}[form]
    model = WideDeep()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0)
    assert sorted(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert model.seen[-1] == ("dict" if form == "dict" else "list")
    assert [s[2] for s in model._input_specs()] == [False, True]   # codes stay token ids
    expected = _numpy_forward(model, numeric, codes)
    np.testing.assert_allclose(model.predict(x, batch_size=5), expected, rtol=1e-5, atol=1e-6)
    loss, mae = model.evaluate(x, y)
    assert loss == pytest.approx(np.mean((expected[:, 0] - y) ** 2), rel=1e-5)
    assert mae == pytest.approx(np.mean(np.abs(expected[:, 0] - y)), rel=1e-5)
    assert model.count_params() == 3 * 4 + 4 + 5 * 2 + (4 + 4) + 1


def test_one_fit_step_equals_a_plain_torch_step():
    numeric, codes, y = _data(10, seed=1)
    model = WideDeep()
    model.build([(3,), (2,)])
    w, b = (torch.tensor(a, requires_grad=True) for a in model.deep.get_weights())
    table = torch.tensor(model.embed.get_weights()[0], requires_grad=True)
    v, c = (torch.tensor(a, requires_grad=True) for a in model.head.get_weights())
    joined = torch.cat([torch.relu(torch.from_numpy(numeric) @ w + b),
                        table[torch.from_numpy(codes)].reshape(10, -1)], dim=1)
    loss = ((joined @ v + c)[:, 0] - torch.from_numpy(y)).square().mean()
    loss.backward()
    model.compile(optimizer=sd.optimizers.SGD(0.1), loss="mse")
    history = model.fit([numeric, codes], y, epochs=1, batch_size=10, verbose=0)
    assert history.history["loss"][0] == pytest.approx(float(loss.detach()), rel=1e-5)
    for mine, ref in ((model.deep.get_weights()[0], w), (model.embed.get_weights()[0], table),
                      (model.head.get_weights()[1], c)):
        np.testing.assert_allclose(mine, (ref - 0.1 * ref.grad).detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_weights_load_into_a_model_built_from_a_dict_of_shapes(tmp_path):
    numeric, codes, y = _data()
    model = WideDeep()
    model.compile(optimizer="rmsprop", loss="mse")
    x = {"numeric": numeric, "codes": codes}
    model.fit(x, y, epochs=1, verbose=0)
    model.save_weights(tmp_path / "w.statdl")
    again = WideDeep()
    again.build({"numeric": (3,), "codes": (2,)})
    again.load_weights(tmp_path / "w.statdl")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    # called on tensors by name, as inside a train_step
    out = again({"numeric": torch.from_numpy(numeric), "codes": torch.from_numpy(codes)})
    np.testing.assert_allclose(out.detach().numpy(), model.predict(x), rtol=1e-6)
    with pytest.raises(ConfigError, match="numeric"):
        again.predict({"numbers": numeric, "codes": codes})


def test_a_train_step_of_a_subclass_gets_the_inputs_as_given():
    numeric, codes, y = _data()

    class Stepped(WideDeep):
        def train_step(self, data):
            x, target = data
            pred = self(x, training=True)[:, 0]
            return {"loss": (pred - target).square().mean()}

    model = Stepped()
    model.compile(optimizer="sgd")
    history = model.fit({"numeric": numeric, "codes": codes}, y, epochs=2, batch_size=8,
                        verbose=0)
    assert model.seen[-1] == "dict" and len(history.history["loss"]) == 2
    assert model.embed.get_weights()[0].shape == (5, 2)


class TwoHeads(sd.Model):
    def __init__(self):
        super().__init__()
        self.hidden = L.Dense(4, activation="tanh")
        self.reg = L.Dense(1)
        self.cls = L.Dense(1, activation="sigmoid")

    def call(self, inputs):
        h = self.hidden(inputs)
        return [self.reg(h), self.cls(h)]


def test_a_subclass_with_two_outputs_compiles_per_output_before_it_is_built():
    numeric, _, y = _data()
    yb = (y > 0).astype(np.float32)
    model = TwoHeads()
    model.compile(optimizer="sgd", loss=["mse", "binary_crossentropy"],
                  loss_weights=[1.0, 0.5], metrics=[["mae"], ["accuracy"]])
    assert isinstance(model.optimizer, sd.optimizers.SGD)
    history = model.fit(numeric, [y, yb], epochs=2, batch_size=8, verbose=0)
    assert sorted(history.history) == ["loss", "output_1_loss", "output_1_mae",
                                       "output_2_accuracy", "output_2_loss"]
    reg, cls = model.predict(numeric)
    mse = np.mean((reg[:, 0] - y) ** 2)
    p = np.clip(cls[:, 0], 1e-7, 1 - 1e-7)
    bce = -np.mean(yb * np.log(p) + (1 - yb) * np.log(1 - p))
    logs = model.evaluate(numeric, [y, yb], return_dict=True)
    assert logs["loss"] == pytest.approx(mse + 0.5 * bce, rel=1e-5)
    assert logs["output_2_accuracy"] == pytest.approx(np.mean((cls[:, 0] > 0.5) == yb))
