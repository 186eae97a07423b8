"""Dropout's random numbers: 0/1 keep masks drawn from torch's generator.

``keep_mask`` draws one mask, ``KeepMasks`` all of a training step's masks with one call to the
generator into buffers reused from step to step (the ``dense_step`` fast path's way), ``dropout_mask`` the
inverted-dropout multiplier the Dropout layer and the recurrent cells apply. Both paths draw the
same numbers in the same order, so a model trains to the same weights from one seed whichever
path draws its masks.

On the CPU each entry takes 16 random bits (``threshold_16``), because torch's CPU generator is
sequential and its draws were a tenth of a dense network's training step; ``SIXTEEN_BIT =
False`` (the fast path ``dropout_16bit`` of ``statdl.fast_paths``) makes the CPU draw 32 bits
per entry as other devices do: the same distribution, other numbers.
"""

from __future__ import annotations

import math

import torch

__all__ = ["keep_mask", "KeepMasks", "threshold_16", "dropout_mask", "inverted_mask",
           "SIXTEEN_BIT"]

#: CPU masks from 16 random bits per entry (True) or 32 as on other devices (False).
SIXTEEN_BIT: bool = True


def keep_mask(shape: tuple[int, ...], rate: float, device=None,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Dropout's keep indicator: each entry 1 with probability ``1 - rate`` and 0 otherwise,
    as a ``dtype`` tensor (multiplying by it is the cheapest way to apply it).

    Drawn from torch's generator, so ``statdl.set_seed`` governs it. On the CPU, where that
    generator is sequential and its draws were a tenth of a dense network's training step,
    each entry takes 16 bits (four per 64-bit draw) and is kept where ``bits >= t``. The
    threshold ``t`` is ``floor(65536 rate)`` or one more, picked for the whole mask by one
    further draw with the probabilities that make ``E[t] = 65536 rate`` (``threshold_16``).
    So each entry is dropped with probability exactly ``rate`` (to 2**-53), and the entries of
    one mask depend on each other only through ``t``: a covariance below 2**-34. Other
    devices (and the CPU with ``SIXTEEN_BIT = False``) use 32 bits per entry, exact to within
    2**-33.

    Examples
    --------
    >>> m = keep_mask((1000, 100), 0.4)
    >>> m.dtype, sorted(m.unique().tolist()), abs(float(m.mean()) - 0.6) < 0.01
    (torch.float32, [0.0, 1.0], True)
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    if device.type == "cpu" and SIXTEEN_BIT:
        return _MaskLayout([tuple(shape)], device, dtype).draw([rate])[0]
    numel = math.prod(shape)
    words = torch.empty((numel + 1) // 2, dtype=torch.int64, device=device)
    bits = words.random_(_INT64_MIN, None).view(torch.int32)[:numel].view(shape)
    return torch.ge(bits, round(rate * 2**32) - 2**31,
                    out=torch.empty(shape, dtype=dtype, device=device))


class KeepMasks:
    """The keep masks of several dropout layers for one training step, drawn with one call to
    torch's generator into buffers reused from step to step.

    Mask ``i`` gets the same random numbers as the ``i``-th of consecutive ``keep_mask``
    calls, so a model trains the same from one seed whichever draws its masks. A ``draw``
    overwrites the masks the previous ``draw`` of the same shapes returned.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> a, b = KeepMasks([0.4, 0.3]).draw([(4, 6), (4, 2)])
    >>> _ = torch.manual_seed(0)
    >>> torch.equal(a, keep_mask((4, 6), 0.4)), torch.equal(b, keep_mask((4, 2), 0.3))
    (True, True)
    """

    def __init__(self, rates: list[float]):
        self.rates = list(rates)
        self._layouts: dict[tuple, _MaskLayout] = {}

    def draw(self, shapes: list[tuple[int, ...]], device=None,
             dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
        """One mask per rate, of the matching shape in ``shapes``."""
        if len(shapes) != len(self.rates):
            raise ValueError(f"`shapes` must give one shape per rate ({len(self.rates)}); "
                             f"got {len(shapes)}.")
        if not shapes:
            return []
        device = torch.device("cpu") if device is None else torch.device(device)
        if device.type != "cpu" or not SIXTEEN_BIT:
            return [keep_mask(s, r, device, dtype) for s, r in zip(shapes, self.rates)]
        key = (tuple(shapes), device, dtype)
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = _MaskLayout(list(key[0]), device, dtype)
        return layout.draw(self.rates)


class _MaskLayout:
    """One int64 buffer holding, mask after mask, each mask's 16-bit words and then the word
    that picks its threshold; the masks' bits and outputs are views and buffers made once."""

    def __init__(self, shapes: list[tuple[int, ...]], device: torch.device, dtype: torch.dtype):
        sizes = [(math.prod(shape) + 3) // 4 + 1 for shape in shapes]
        self.words = torch.empty(sum(sizes), dtype=torch.int64, device=device)
        self.bits, self.masks, coin_at, offset = [], [], [], 0
        for shape, size in zip(shapes, sizes):
            chunk = self.words[offset:offset + size - 1].view(torch.int16)
            self.bits.append(chunk[:math.prod(shape)].view(shape))
            self.masks.append(torch.empty(shape, dtype=dtype, device=device))
            coin_at.append(offset + size - 1)
            offset += size
        self.coin_at = torch.tensor(coin_at, dtype=torch.int64, device=device)

    def draw(self, rates: list[float]) -> list[torch.Tensor]:
        self.words.random_(_INT64_MIN, None)
        coins = self.words.index_select(0, self.coin_at).tolist()
        for bits, mask, rate, coin in zip(self.bits, self.masks, rates, coins):
            t = threshold_16(rate, coin)
            if t > 65535:  # no 16-bit value reaches it: all dropped
                mask.zero_()
            else:
                torch.ge(bits, t - 32768, out=mask)
        return self.masks


_INT64_MIN = torch.iinfo(torch.int64).min


def threshold_16(rate: float, word: int) -> int:
    """``floor(65536 rate)``, plus one with probability equal to the fractional part of
    ``65536 rate``, decided by the low 53 bits of the random ``word``: a 16-bit threshold whose
    expectation is exactly ``65536 rate``.

    Examples
    --------
    >>> threshold_16(0.5, 12345)
    32768
    >>> [threshold_16(0.4, w) for w in (0, 2**51, 2**52, 2**53 - 1)]  # 65536 * 0.4 = 26214.4
    [26215, 26215, 26214, 26214]
    """
    scaled = rate * 65536.0  # exact: a power-of-two scaling
    low = math.floor(scaled)
    coin = (word & (2**53 - 1)) / 2.0**53  # uniform on [0, 1) in steps of 2**-53
    return low + (coin < scaled - low)


def dropout_mask(x: torch.Tensor, rate: float) -> torch.Tensor:
    """Inverted-dropout multiplier for ``x``: 0 with probability ``rate``, else ``1 / (1 - rate)``.

    Built from ``keep_mask``; with it, dropout is about twice as fast as ``F.dropout``
    (measured on CPU, forward and backward).
    """
    return inverted_mask(tuple(x.shape), rate, x.device, x.dtype)


def inverted_mask(shape: tuple[int, ...], rate: float, device=None,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``dropout_mask`` for a ``shape`` of one's choosing (the recurrent layers' masks are one
    per sequence, ``(batch, 1, features)``, broadcast over time).

    Examples
    --------
    >>> m = inverted_mask((2, 1, 3), 0.5)
    >>> m.shape, sorted(set(m.flatten().tolist()) | {0.0, 2.0})
    (torch.Size([2, 1, 3]), [0.0, 2.0])
    """
    return keep_mask(tuple(shape), rate, device, dtype).mul_(1.0 / (1.0 - rate))
