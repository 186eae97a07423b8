"""Autoencoder builders: dense (stacked, denoising, sparse, contractive, variational) and
convolutional, each an encoder and a decoder sharing weights with the full model.

``ae.model`` is an ordinary ``Sequential([corruption?, encoder, decoder])``: compile, fit,
evaluate, callbacks and saving work as for any model. ``ae.fit(x)`` is a shortcut for
``ae.model.fit(x, x)`` that also adds the KL report of variational models.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from .. import validation
from ..errors import ConfigError, ShapeError
from ..layers import (
    Conv2D,
    Conv2DTranspose,
    Dense,
    Flatten,
    MaxPooling2D,
    Reshape,
    UpSampling2D,
)
from ..layers.base import Layer, check_positive_int, normalize_shape
from ..model import Sequential
from ..regularizers import L1
from ..training.history import History
from ..validation import choice_error
from .corruption import CORRUPTIONS, check_corruption, corruption_layer
from .penalties import ContractiveEncoder, KLSparsity
from .variational import GaussianSampling, KLReporter

__all__ = ["Autoencoder", "ConvAutoencoder"]

_UNSET = object()


def _check_number(value, argument: str, low: float = 0.0, high: float | None = None,
                  open_low: bool = False) -> float:
    return validation.check_number(value, argument, low=low, high=high,  # type: ignore
                                   low_open=open_low, high_open=True)


class _AutoencoderBase:
    """What every builder shares: compile/fit shortcuts, codings, reconstructions, samples."""

    encoder: Sequential
    decoder: Sequential
    model: Sequential
    input_shape: tuple[int, ...]
    n_codings: int
    variational: bool
    _sampling: GaussianSampling | None

    # ------------------------------------------------------------ regularised codings
    def _setup_options(self, corruption, corruption_rate, sparsity_l1, sparsity_target,
                       sparsity_weight, contractive, variational, kl_weight) -> None:
        if corruption is not None and corruption not in CORRUPTIONS:
            raise choice_error("corruption", corruption, CORRUPTIONS)
        self.corruption = corruption
        self.corruption_rate = (check_corruption(corruption, corruption_rate)
                                if corruption is not None else None)
        if sparsity_l1 is not None and sparsity_target is not None:
            raise ConfigError(validation.message(
                ["sparsity_l1", "sparsity_target"], "given one at a time", "both",
                type(self).__name__, "Give either `sparsity_l1` (L1 activity penalty) or "
                "`sparsity_target` (KL sparsity), not both.", shown="both"))
        self.sparsity_l1 = None if sparsity_l1 is None else _check_number(
            sparsity_l1, "sparsity_l1")
        self.sparsity_target = None if sparsity_target is None else _check_number(
            sparsity_target, "sparsity_target", 0.0, 1.0, open_low=True)
        self.sparsity_weight = _check_number(sparsity_weight, "sparsity_weight")
        self.contractive = _check_number(contractive, "contractive")
        self.variational = bool(variational)
        self.kl_weight = _check_number(kl_weight, "kl_weight")
        if self.variational and (self.contractive or self.sparsity_l1 is not None
                                 or self.sparsity_target is not None):
            raise ConfigError(validation.message(
                "variational", "False when `contractive`, `sparsity_l1` or `sparsity_target` "
                "is given", variational, type(self).__name__,
                "Its KL term already regularises the codings."))
        self._sampling = None

    @property
    def regularized(self) -> bool:
        return bool(self.corruption or self.sparsity_l1 or self.sparsity_target
                    or self.contractive or self.variational)

    def _codings_layers(self, codings: int, activation, n_features: int) -> list[Layer]:
        if self.variational:
            self._sampling = GaussianSampling(self.kl_weight / n_features)
            return [Dense(2 * codings), self._sampling]
        if self.sparsity_target is not None:
            return [Dense(codings, activation="sigmoid"),
                    KLSparsity(self.sparsity_target, self.sparsity_weight)]
        reg = L1(self.sparsity_l1) if self.sparsity_l1 else None
        return [Dense(codings, activation=activation, activity_regularizer=reg)]

    def _make_encoder(self, layers: list[Layer], shape) -> Sequential:
        if self.contractive:
            return ContractiveEncoder(layers, input_shape=shape, name="encoder",
                                      contractive=self.contractive)
        return Sequential(layers, input_shape=shape, name="encoder")

    def _make_model(self, name: str) -> Sequential:
        front = [corruption_layer(self.corruption, self.corruption_rate)] \
            if self.corruption is not None else []
        return Sequential([*front, self.encoder, self.decoder], input_shape=self.input_shape,
                          name=name)

    # ------------------------------------------------------------ data
    def _as_input(self, x, argument: str = "x") -> np.ndarray:
        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        arr = np.asarray(x, dtype=np.float32)
        if arr.shape[1:] == self.input_shape:
            return arr
        if arr.ndim >= 1 and math.prod(arr.shape[1:]) == math.prod(self.input_shape):
            return arr.reshape(arr.shape[0], *self.input_shape)
        raise ShapeError(validation.message(
            argument, f"samples of shape {self.input_shape} (or the same number of values, "
            f"{math.prod(self.input_shape)})", x, verb="hold",
            shown=f"array of shape {arr.shape}"))

    # ------------------------------------------------------------ model workflow
    def summary(self, print_fn=print) -> str:
        """The full model's Keras-style table (encoder and decoder as rows)."""
        return self.model.summary(print_fn=print_fn)

    def count_params(self) -> int:
        """Weights of the full model (the encoder's and decoder's)."""
        return self.model.count_params()

    def compile(self, optimizer="adam", loss="mse", metrics=None, device="auto") -> None:
        """Compile the full model (defaults: Adam, mean squared error, as in the course)."""
        self.model.compile(optimizer=optimizer, loss=loss, metrics=metrics, device=device)

    def kl_reporter(self) -> KLReporter:
        """Callback logging ``kl_loss`` and ``reconstruction_loss`` (variational models)."""
        if self._sampling is None:
            raise ConfigError("`kl_reporter` needs a variational autoencoder "
                              "(variational=True).")
        return KLReporter(self._sampling)

    def fit(self, x, y=None, *, epochs: int = 1, batch_size: int = 32, callbacks=None,
            validation_split: float = 0.0, validation_data=None, **kwargs) -> History:
        """Train the full model to reproduce ``x`` (``y`` defaults to ``x``).

        Compiles with Adam and MSE first if ``compile`` was not called. ``validation_data`` may
        be an array (its own target) or ``(x_val, y_val)``. Variational models log
        ``kl_loss`` and ``reconstruction_loss`` in the history. Other keyword arguments go to
        ``Sequential.fit`` (``verbose``, ``shuffle``, ``sample_weight``, ``initial_epoch``).
        """
        if not self.model.compiled:
            self.compile()
        xs = self._as_input(x)
        ys = xs if y is None else self._as_input(y, "y")
        val = None
        if validation_data is not None:
            if isinstance(validation_data, tuple | list):
                xv = self._as_input(validation_data[0], "validation_data[0]")
                yv = self._as_input(validation_data[1], "validation_data[1]") \
                    if len(validation_data) > 1 else xv
                val = (xv, yv, *validation_data[2:])
            else:
                xv = self._as_input(validation_data, "validation_data")
                val = (xv, xv)
        cbs = list(callbacks or [])
        if self._sampling is not None and not any(isinstance(c, KLReporter) for c in cbs):
            cbs.insert(0, self.kl_reporter())
        return self.model.fit(xs, ys, epochs=epochs, batch_size=batch_size, callbacks=cbs,
                              validation_split=validation_split, validation_data=val, **kwargs)

    def codings(self, x, batch_size: int | None = None) -> np.ndarray:
        """The encoder's output for ``x`` (the course's "deep features"; means for a VAE)."""
        return self.encoder.predict(self._as_input(x), batch_size=batch_size)

    def reconstruct(self, x, batch_size: int | None = None) -> np.ndarray:
        """The full model's output for ``x`` (no corruption at prediction time)."""
        return self.model.predict(self._as_input(x), batch_size=batch_size)

    def decode(self, codings, batch_size: int | None = None) -> np.ndarray:
        """The decoder's output for given codings."""
        return self.decoder.predict(np.asarray(codings, dtype=np.float32),
                                    batch_size=batch_size)

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` new instances decoded from codings drawn from N(0, I) (variational only).

        The same ``seed`` gives the same samples.
        """
        if not self.variational:
            raise ConfigError("`sample` needs a variational autoencoder (variational=True).")
        n = check_positive_int(n, "n", "sample")
        z = np.random.default_rng(seed).standard_normal((n, self.n_codings))
        return self.decode(z.astype(np.float32))

    def save(self, path) -> None:
        """Save the full model (``statdl.load_model`` reads it back)."""
        self.model.save(path)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(input_shape={self.input_shape}, "
                f"codings={self.n_codings}, params={self.count_params()})")


class Autoencoder(_AutoencoderBase):
    """A symmetric dense autoencoder: ``input - hidden... - codings - ...hidden - input``.

    Parameters
    ----------
    input_shape : int or tuple
        Shape of one sample, e.g. ``784`` or ``(28, 28)`` (images are flattened inside).
    codings : int
        Units of the codings layer.
    hidden : sequence of int
        Encoder hidden layers, mirrored in the decoder: ``hidden=(400, 200)`` gives
        784-400-200-codings-200-400-784.
    activation : str
        Activation of hidden and codings layers (default ``"tanh"``, as in the course).
    output_activation : str, optional
        Activation of the reconstruction (``None``: linear; ``"sigmoid"`` for [0, 1] data).
    codings_activation : str, optional
        Activation of the codings layer if it should differ from ``activation``.
    corruption : {"masking", "salt_and_pepper", "gaussian"}, optional
        Denoising: corrupt the inputs afresh on every training batch (targets stay clean).
    corruption_rate : float
        Fraction of inputs corrupted (masking) or the noise sd (gaussian).
    sparsity_l1 : float, optional
        Sparse: L1 activity penalty ``l1 * sum|codings|`` per sample.
    sparsity_target, sparsity_weight : float, optional
        Sparse: KL target mean activation ``rho`` and weight ``beta`` (sigmoid codings).
    contractive : float
        Contractive: weight of ``||J_encoder(x)||_F^2`` (closed form for one sigmoid, tanh or
        linear layer, ``torch.func`` Jacobian otherwise).
    variational : bool
        Variational: Gaussian codings, reparameterisation and a KL term weighted
        ``kl_weight / n_features`` (so that with a loss averaged over the features the
        objective is proportional to the ELBO's ``sum`` reconstruction term + ``kl_weight * KL``).
    kl_weight : float
        Weight ``beta`` of the KL term (1: the ELBO).
    name : str
        Name of the full model.

    Examples
    --------
    >>> ae = Autoencoder(784, 100)   # the course's 784-100-784 tanh autoencoder
    >>> ae.count_params()
    157684
    >>> ae.compile(optimizer="adam", loss="mse")
    """

    def __init__(self, input_shape, codings: int, hidden: Sequence[int] | int = (),
                 activation="tanh", output_activation=None, *, codings_activation=_UNSET,
                 corruption: str | None = None, corruption_rate: float = 0.25,
                 sparsity_l1: float | None = None, sparsity_target: float | None = None,
                 sparsity_weight: float = 1.0, contractive: float = 0.0,
                 variational: bool = False, kl_weight: float = 1.0, name: str = "autoencoder"):
        shape = normalize_shape(input_shape, "input_shape")
        if shape is None:
            raise ConfigError(validation.message("input_shape", "a shape, e.g. 784 or (28, 28)",
                                                 input_shape, "Autoencoder"))
        self.input_shape = shape
        self.n_codings = check_positive_int(codings, "codings", "Autoencoder")
        hidden = (hidden,) if isinstance(hidden, int | np.integer) else tuple(hidden)
        self.hidden = tuple(check_positive_int(h, "hidden", "Autoencoder") for h in hidden)
        self._setup_options(corruption, corruption_rate, sparsity_l1, sparsity_target,
                            sparsity_weight, contractive, variational, kl_weight)
        n_features = math.prod(shape)
        if self.n_codings >= n_features and not self.regularized:
            warnings.warn(
                f"`codings` ({self.n_codings}) >= the input size ({n_features}): the "
                "autoencoder is not undercomplete and can learn the identity; use fewer "
                "codings, or add corruption=, sparsity_l1=/sparsity_target= or contractive=.",
                UserWarning, stacklevel=2)
        codings_act = activation if codings_activation is _UNSET else codings_activation
        enc: list[Layer] = [Flatten()] if len(shape) > 1 else []
        enc += [Dense(h, activation=activation) for h in self.hidden]
        enc += self._codings_layers(self.n_codings, codings_act, n_features)
        self.encoder = self._make_encoder(enc, shape)
        dec: list[Layer] = [Dense(h, activation=activation) for h in reversed(self.hidden)]
        dec.append(Dense(n_features, activation=output_activation))
        if len(shape) > 1:
            dec.append(Reshape(shape))
        self.decoder = Sequential(dec, input_shape=(self.n_codings,), name="decoder")
        self.model = self._make_model(name)


class ConvAutoencoder(_AutoencoderBase):
    """A convolutional autoencoder for images ``(h, w[, c])``; no flattening by the user.

    Encoder: for each entry of ``filters`` a ``Conv2D(f, kernel_size, padding="same")`` and a
    2x2 ``MaxPooling2D``; then, when ``codings`` is an int, ``Flatten`` and a Dense codings
    layer. The decoder mirrors it with ``UpSampling2D`` + ``Conv2D`` (``upsampling=
    "upsampling"``) or strided ``Conv2DTranspose`` (``"transpose"``) and ends in a
    ``Conv2D`` with one filter per input channel.

    Parameters
    ----------
    input_shape : tuple
        ``(h, w)`` or ``(h, w, c)``; ``h`` and ``w`` must be divisible by ``2**len(filters)``.
    filters : sequence of int
        Filters of each encoder level (mirrored in the decoder).
    codings : int, optional
        Size of a dense codings layer; ``None`` keeps the last feature maps as codings.
    kernel_size : int
        Convolution window.
    activation, output_activation : str
        Hidden activation (default ``"relu"``) and output activation (default ``"sigmoid"``).
    upsampling : {"upsampling", "transpose"}
        How the decoder enlarges the maps.
    corruption, corruption_rate, sparsity_l1, sparsity_target, sparsity_weight, contractive,
    variational, kl_weight, name :
        As for ``Autoencoder`` (``variational`` needs an int ``codings``).

    Examples
    --------
    >>> ae = ConvAutoencoder((28, 28, 1), filters=(16, 8))
    >>> ae.encoder.output_shape_
    (7, 7, 8)
    """

    def __init__(self, input_shape, filters: Sequence[int] = (16, 8), codings: int | None = None,
                 kernel_size: int = 3, activation="relu", output_activation="sigmoid",
                 upsampling: str = "upsampling", *, corruption: str | None = None,
                 corruption_rate: float = 0.25, sparsity_l1: float | None = None,
                 sparsity_target: float | None = None, sparsity_weight: float = 1.0,
                 contractive: float = 0.0, variational: bool = False, kl_weight: float = 1.0,
                 name: str = "conv_autoencoder"):
        shape = normalize_shape(input_shape, "input_shape")
        if shape is None or len(shape) not in (2, 3) or None in shape:
            raise ConfigError(validation.message(
                "input_shape", "(height, width) or (height, width, channels)", input_shape,
                "ConvAutoencoder"))
        self.input_shape = shape
        filters = (filters,) if isinstance(filters, int | np.integer) else tuple(filters)
        if not filters:
            raise ConfigError(validation.message("filters", "at least one int >= 1", filters,
                                                 "ConvAutoencoder", verb="hold"))
        self.filters = tuple(check_positive_int(f, "filters", "ConvAutoencoder")
                             for f in filters)
        if upsampling not in ("upsampling", "transpose"):
            raise choice_error("upsampling", upsampling, ("upsampling", "transpose"))
        self._setup_options(corruption, corruption_rate, sparsity_l1, sparsity_target,
                            sparsity_weight, contractive, variational, kl_weight)
        if self.variational and codings is None:
            raise ConfigError(validation.message(
                "codings", "an int when variational=True (the Gaussian codings are a vector)",
                codings, "ConvAutoencoder"))
        h, w = shape[0], shape[1]
        c = shape[2] if len(shape) == 3 else 1
        step = 2 ** len(self.filters)
        if h % step or w % step:
            raise ConfigError(validation.message(
                "input_shape", f"a height and width divisible by {step} (the {len(self.filters)} "
                "levels of `filters` halve them)", input_shape, "ConvAutoencoder",
                "Use fewer levels.", verb="have", shown=f"{shape}"))
        image = (h, w, c)
        enc: list[Layer] = [Reshape(image)] if len(shape) == 2 else []
        for f in self.filters:
            enc += [Conv2D(f, kernel_size, padding="same", activation=activation),
                    MaxPooling2D(2, padding="same")]
        maps = (h // step, w // step, self.filters[-1])
        if codings is not None:
            self.n_codings = check_positive_int(codings, "codings", "ConvAutoencoder")
            enc += [Flatten(), *self._codings_layers(self.n_codings, activation,
                                                     math.prod(shape))]
            dec: list[Layer] = [Dense(math.prod(maps), activation=activation), Reshape(maps)]
            codings_shape: tuple[int, ...] = (self.n_codings,)
        else:
            if self.sparsity_l1:
                enc[-2] = Conv2D(self.filters[-1], kernel_size, padding="same",
                                 activation=activation,
                                 activity_regularizer=L1(self.sparsity_l1))
            elif self.sparsity_target is not None:
                enc[-2] = Conv2D(self.filters[-1], kernel_size, padding="same",
                                 activation="sigmoid")
                enc.append(KLSparsity(self.sparsity_target, self.sparsity_weight))
            self.n_codings = math.prod(maps)
            dec, codings_shape = [], maps
        self.encoder = self._make_encoder(enc, shape)
        for f in reversed(self.filters):
            if upsampling == "upsampling":
                dec += [Conv2D(f, kernel_size, padding="same", activation=activation),
                        UpSampling2D(2)]
            else:
                dec.append(Conv2DTranspose(f, kernel_size, strides=2, padding="same",
                                           activation=activation))
        dec.append(Conv2D(c, kernel_size, padding="same", activation=output_activation))
        if len(shape) == 2:
            dec.append(Reshape(shape))
        self.decoder = Sequential(dec, input_shape=codings_shape, name="decoder")
        self.model = self._make_model(name)
