"""RandomAugmentation: identity at inference, exact geometry, seeding, speed-friendly batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from statdl.errors import ConfigError, ShapeError
from statdl.layers.augmentation import RandomAugmentation, plot_augmented


def _img(n=2, h=8, w=8, c=1):
    return torch.arange(n * h * w * c, dtype=torch.float32).reshape(n, h, w, c)


def test_identity_in_eval_and_no_params():
    layer = RandomAugmentation(rotation=40, zoom=0.3, horizontal_flip=True)
    m = layer.build((8, 8, 1))
    m.eval()
    x = _img()
    assert torch.equal(m(x), x)
    assert layer.param_count((8, 8, 1)) == 0
    assert layer.output_shape((8, 8, 1)) == (8, 8, 1)


def test_zero_ranges_are_identity_in_training():
    m = RandomAugmentation().build((8, 8, 1))
    m.train()
    x = _img()
    torch.testing.assert_close(m(x), x, atol=1e-4, rtol=0)


def test_flip_reverses_columns():
    m = RandomAugmentation(horizontal_flip=True, seed=3).build((8, 8, 1))
    m.train()
    x = _img(n=64)
    y = m(x)
    flipped = [torch.allclose(a, b.flip(1), atol=1e-4) for a, b in zip(y, x)]
    same = [torch.allclose(a, b, atol=1e-4) for a, b in zip(y, x)]
    assert all(f or s for f, s in zip(flipped, same))
    assert 10 < sum(flipped) < 54


def test_integer_width_shift_moves_pixels():
    # a shift of exactly 2 pixels (range [2, 2] via width_shift=2 pixels and seed draws of
    # +-2 at most): compare against the definition out[r, c] = in[r, c + t] with border fill
    m = RandomAugmentation(width_shift=2.0, seed=0).build((6, 6, 1))
    m.train()
    x = _img(n=1, h=6, w=6)
    theta = m.theta(1, 6, 6)  # drawn shift, in normalised coords
    m.reseed(0)
    y = m(x)[0, :, :, 0]
    t = float(theta[0, 0, 2]) * 6 / 2  # back to pixels
    cols = np.clip(np.arange(6) + t, 0, 5)
    lo = np.floor(cols).astype(int)
    hi = np.minimum(lo + 1, 5)
    frac = cols - lo
    xin = x[0, :, :, 0].numpy()
    expect = xin[:, lo] * (1 - frac) + xin[:, hi] * frac
    np.testing.assert_allclose(y.numpy(), expect, atol=1e-3)


def test_rotation_by_90_degrees_rotates_the_grid():
    m = RandomAugmentation(rotation=90, seed=0).build((5, 5, 1))
    m.train()
    m.rotation = 90.0
    m._uniform = lambda n, lo, hi: torch.full((n,), float(hi), dtype=torch.float64)  # +90
    x = _img(n=1, h=5, w=5)
    y = m(x)[0, :, :, 0]
    xin = x[0, :, :, 0]
    assert torch.allclose(y, torch.rot90(xin, 1), atol=1e-3) or \
        torch.allclose(y, torch.rot90(xin, -1), atol=1e-3)


def test_seed_repeats_and_batches_differ():
    x = _img(n=4, h=16, w=16, c=3)
    outs = []
    for _ in range(2):
        m = RandomAugmentation(rotation=30, zoom=0.2, seed=11).build((16, 16, 3))
        m.train()
        outs.append(m(x))
    assert torch.equal(outs[0], outs[1])
    assert not torch.allclose(outs[0][0], outs[0][1])


@pytest.mark.parametrize("kwargs, match", [
    ({"rotation": -5}, "`rotation`"), ({"zoom": 1.5}, "`zoom`"),
    ({"fill_mode": "mirror"}, "`fill_mode` of RandomAugmentation must be one of"), ({"seed": -1}, "`seed`"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RandomAugmentation(**kwargs)


def test_needs_images():
    with pytest.raises(ShapeError):
        RandomAugmentation().output_shape((10,))


@pytest.mark.parametrize("mode", ["nearest", "constant", "reflect", "wrap"])
def test_fill_modes_run_and_constant_fills_cval(mode):
    m = RandomAugmentation(width_shift=0.5, fill_mode=mode, cval=-1.0, seed=2).build((8, 8, 1))
    m.train()
    y = m(torch.ones(8, 8, 8, 1))
    if mode == "constant":
        assert (y < 0).any()
    else:
        torch.testing.assert_close(y, torch.ones_like(y))


def test_config_round_trip():
    layer = RandomAugmentation(zoom=0.1, rotation=15, horizontal_flip=True, seed=4)
    again = RandomAugmentation(**layer.get_config())
    assert again.get_config() == layer.get_config()


def test_plot_augmented_grid():
    img = (np.arange(28 * 28).reshape(28, 28) % 255).astype(np.uint8)
    fig = plot_augmented(img, RandomAugmentation(rotation=20, zoom=0.2), n=6, ncol=3, seed=0)
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == "original"
    with pytest.raises(ConfigError, match="`n`"):
        plot_augmented(img, RandomAugmentation(), n=0)
