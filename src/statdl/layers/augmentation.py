"""Random image augmentation (Keras ``ImageDataGenerator`` meanings) as a layer.

One affine transform per image (rotation, shifts, shear, zoom, then an optional horizontal
flip), applied to the whole batch at once with ``affine_grid``/``grid_sample`` and bilinear
interpolation. Active only while training; the identity otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import validation
from ..errors import ConfigError
from .base import Layer, Shape

__all__ = ["RandomAugmentation", "plot_augmented"]

FILL_MODES = ("nearest", "constant", "reflect", "wrap")


def _nonneg(value, name: str) -> float:
    return validation.check_number(value, name, "RandomAugmentation", low=0)  # type: ignore


class RandomAugmentationModule(nn.Module):
    """Batched random affine transform of ``(n, h, w, c)`` tensors."""

    def __init__(self, zoom: tuple[float, float], width_shift: float, height_shift: float,
                 shear: float, rotation: float, horizontal_flip: bool, fill_mode: str,
                 cval: float, seed: int | None):
        super().__init__()
        self.zoom, self.width_shift, self.height_shift = zoom, width_shift, height_shift
        self.shear, self.rotation, self.horizontal_flip = shear, rotation, horizontal_flip
        self.fill_mode, self.cval = fill_mode, cval
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(int(seed))

    def reseed(self, seed: int) -> None:
        """Restart the random stream from ``seed``."""
        self.generator.manual_seed(int(seed))

    def _uniform(self, n: int, lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=self.generator, dtype=torch.float64)

    def theta(self, n: int, h: int, w: int) -> torch.Tensor:
        """``(n, 2, 3)`` matrices mapping output to input normalised coordinates (x=col)."""
        rot = torch.deg2rad(self._uniform(n, -self.rotation, self.rotation))
        ws = self.width_shift * w if self.width_shift < 1 else self.width_shift
        hs = self.height_shift * h if self.height_shift < 1 else self.height_shift
        ty = self._uniform(n, -ws, ws)  # column (width) shift in pixels, Keras's ty
        tx = self._uniform(n, -hs, hs)  # row (height) shift in pixels, Keras's tx
        shear = torch.deg2rad(self._uniform(n, -self.shear, self.shear))
        zx = self._uniform(n, *self.zoom)  # row zoom
        zy = self._uniform(n, *self.zoom)  # column zoom
        flip = (torch.rand(n, generator=self.generator, dtype=torch.float64) < 0.5
                if self.horizontal_flip else torch.zeros(n, dtype=torch.bool))
        one, zero = torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)

        def mat(rows):
            return torch.stack([torch.stack(r, -1) for r in rows], -2)

        # Keras composes (row, col) matrices: rotation @ shift @ shear @ zoom. Same here in
        # (col, row) order, centred on the image, mapping output pixels to input pixels.
        c, s = torch.cos(rot), torch.sin(rot)
        rotation = mat([[c, s, zero], [-s, c, zero], [zero, zero, one]])
        shift = mat([[one, zero, ty], [zero, one, tx], [zero, zero, one]])
        shear_m = mat([[torch.cos(shear), zero, zero], [-torch.sin(shear), one, zero],
                       [zero, zero, one]])
        zoom_m = mat([[zy, zero, zero], [zero, zx, zero], [zero, zero, one]])
        m = rotation @ shift @ shear_m @ zoom_m
        # pixel offsets from the centre -> normalised coords (align_corners=False)
        scale = torch.diag(torch.tensor([w / 2.0, h / 2.0, 1.0], dtype=torch.float64))
        inv = torch.diag(torch.tensor([2.0 / w, 2.0 / h, 1.0], dtype=torch.float64))
        flip_m = torch.diag_embed(torch.stack([torch.where(flip, -one, one), one, one], -1))
        theta = inv @ m @ scale @ flip_m
        return theta[:, :2, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        n, h, w, _ = x.shape
        theta = self.theta(n, h, w).to(device=x.device, dtype=x.dtype if x.is_floating_point()
                                       else torch.float32)
        img = x.permute(0, 3, 1, 2)
        if not img.is_floating_point():
            img = img.float()
        grid = F.affine_grid(theta, list(img.shape), align_corners=False)
        if self.fill_mode == "wrap":
            grid = torch.remainder(grid + 1, 2) - 1
        padding = {"nearest": "border", "constant": "zeros", "reflect": "reflection",
                   "wrap": "border"}[self.fill_mode]
        out = F.grid_sample(img, grid, mode="bilinear", padding_mode=padding,
                            align_corners=False)
        if self.fill_mode == "constant" and self.cval != 0:
            mask = F.grid_sample(torch.ones_like(img[:, :1]), grid, mode="bilinear",
                                 padding_mode="zeros", align_corners=False)
            out = out + self.cval * (1 - mask)
        return out.permute(0, 2, 3, 1).to(x.dtype)


class RandomAugmentation(Layer):
    """Random zoom, shifts, shear, rotation and horizontal flips of images while training.

    Meanings follow Keras's ``ImageDataGenerator``.

    Parameters
    ----------
    zoom : float or (low, high)
        Zoom factors drawn uniformly from ``[1 - zoom, 1 + zoom]`` (or ``[low, high]``),
        separately for rows and columns. Factors > 1 zoom out, as in Keras.
    width_shift, height_shift : float
        Shifts: a fraction of the width/height when < 1, pixels when >= 1.
    shear : float
        Shear angle in degrees, drawn from ``[-shear, shear]``.
    rotation : float
        Rotation angle in degrees, drawn from ``[-rotation, rotation]``.
    horizontal_flip : bool
        Flip half of the images left-right.
    fill_mode : {"nearest", "constant", "reflect", "wrap"}
        How points outside the image are filled.
    cval : float
        Fill value for ``fill_mode="constant"``.
    seed : int, optional
        Seed of the layer's own random stream.

    Examples
    --------
    >>> import torch
    >>> layer = RandomAugmentation(rotation=20, horizontal_flip=True, seed=1)
    >>> m = layer.build((32, 32, 3))
    >>> x = torch.rand(4, 32, 32, 3)
    >>> _ = m.train(); m(x).shape
    torch.Size([4, 32, 32, 3])
    >>> _ = m.eval(); bool((m(x) == x).all())
    True
    """

    def __init__(self, zoom: float | tuple[float, float] = 0.0, width_shift: float = 0.0,
                 height_shift: float = 0.0, shear: float = 0.0, rotation: float = 0.0,
                 horizontal_flip: bool = False, fill_mode: str = "nearest", cval: float = 0.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(zoom, list | tuple):
            if len(zoom) != 2 or not all(isinstance(z, int | float) for z in zoom) \
                    or not 0 < zoom[0] <= zoom[1]:
                raise ConfigError(validation.message(
                    "zoom", "a number in [0, 1) or a pair 0 < low <= high", zoom,
                    "RandomAugmentation"))
            self.zoom = (float(zoom[0]), float(zoom[1]))
        else:
            z = _nonneg(zoom, "zoom")
            if z >= 1:
                raise ConfigError(validation.message(
                    "zoom", "a number in [0, 1) or a pair 0 < low <= high", zoom,
                    "RandomAugmentation"))
            self.zoom = (1 - z, 1 + z)
        self.width_shift = _nonneg(width_shift, "width_shift")
        self.height_shift = _nonneg(height_shift, "height_shift")
        self.shear = _nonneg(shear, "shear")
        self.rotation = _nonneg(rotation, "rotation")
        self.horizontal_flip = bool(horizontal_flip)
        self.fill_mode = validation.check_choice(fill_mode, "fill_mode", FILL_MODES,
                                                 "RandomAugmentation")
        self.cval = validation.check_number(cval, "cval", "RandomAugmentation")
        self.seed = validation.check_int(seed, "seed", "RandomAugmentation", low=0,
                                         allow_none=True)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, 3, "images of shape (height, width, channels)")
        return input_shape

    def make_module(self, input_shape: Shape) -> nn.Module:
        return RandomAugmentationModule(self.zoom, self.width_shift, self.height_shift,
                                        self.shear, self.rotation, self.horizontal_flip,
                                        self.fill_mode, self.cval, self.seed)

    def get_config(self) -> dict:
        return {"zoom": list(self.zoom), "width_shift": self.width_shift,
                "height_shift": self.height_shift, "shear": self.shear,
                "rotation": self.rotation, "horizontal_flip": self.horizontal_flip,
                "fill_mode": self.fill_mode, "cval": self.cval, "seed": self.seed}


def plot_augmented(image, augmentation: RandomAugmentation, n: int = 9, ncol: int = 3,
                   seed: int | None = 0, include_original: bool = True):
    """Figure of ``n`` panels: the image (first, if ``include_original``) and augmented copies.

    Parameters
    ----------
    image : array-like
        One image, ``(h, w)`` or ``(h, w, c)``; uint8 0-255 or floats in [0, 1].
    augmentation : RandomAugmentation
        The layer whose random transforms are shown (its own weights are not touched).
    n, ncol : int
        Number of panels and of columns.
    seed : int, optional
        Seed of the draws, so the figure repeats.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_augmented(np.zeros((8, 8)), RandomAugmentation(rotation=30), n=4, ncol=2)
    >>> len(fig.axes)
    4
    """
    from matplotlib.figure import Figure

    if not isinstance(augmentation, RandomAugmentation):
        raise ConfigError(validation.message("augmentation", "a RandomAugmentation layer",
                                             augmentation, "plot_augmented",
                                             shown=type(augmentation).__name__))
    for name, v in (("n", n), ("ncol", ncol)):
        validation.check_int(v, name, "plot_augmented", low=1)
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3:
        raise ConfigError(validation.message("image", "shape (h, w) or (h, w, c)", img,
                                             "plot_augmented", verb="have",
                                             shown=str(img.shape)))
    as_uint8 = img.dtype == np.uint8
    x = torch.as_tensor(img.astype(np.float32) / (255.0 if as_uint8 else 1.0))
    n_aug = n - 1 if include_original else n
    module = augmentation.make_module(tuple(img.shape))
    if seed is not None:
        module.reseed(seed)
    module.train()
    with torch.no_grad():
        copies = module(x.unsqueeze(0).expand(max(n_aug, 0), *x.shape).contiguous())
    panels = ([x] if include_original else []) + list(copies)
    nrow = math.ceil(n / ncol)
    fig = Figure(figsize=(2 * ncol, 2 * nrow))
    for i, p in enumerate(panels):
        ax = fig.add_subplot(nrow, ncol, i + 1)
        arr = p.clamp(0, 1).numpy()
        if arr.shape[-1] == 1:
            ax.imshow(arr[:, :, 0], cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(arr)
        ax.set_xticks([])
        ax.set_yticks([])
        if include_original and i == 0:
            ax.set_title("original", fontsize=9)
    fig.tight_layout()
    return fig
