"""The list of labs, their options, and how one is run (parsing, seeding, run folder)."""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

from ..cli_parsing import SuggestingParser, did_you_mean
from ..errors import ConfigError
from ..threads import set_threads
from ..validation import message

__all__ = ["Lab", "LABS", "get_lab", "lab_parser", "parse_lab_args", "run_lab", "execute"]


@dataclass(frozen=True)
class Lab:
    """One worked example of the course.

    Attributes
    ----------
    name : str
        Command-line name, e.g. ``"mnist-cnn"``.
    summary : str
        One line for ``statdl labs``.
    module, function : str
        Where the code is: ``statdl.labs.<module>.<function>(args, run) -> dict``.
    epochs, quick_epochs : int
        The course's epochs, and the epochs of ``--quick``.
    options : tuple of str
        Extra options this lab accepts (keys of ``OPTIONS``).
    defaults : dict
        Fixed settings passed to the function (e.g. which recurrent layer).
    threads : int, optional
        torch threads when ``--threads`` is not given (1 for tiny models: on a busy machine,
        two threads make a 20-predictor network ~40x slower).
    """

    name: str
    summary: str
    module: str
    function: str = "run"
    epochs: int = 15
    quick_epochs: int = 2
    options: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None


# Extra options: name -> (flags, argparse keyword arguments).
OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "no_dropout": (("--no-dropout",), {"action": "store_true",
                                       "help": "the same network without its dropout layers"}),
    "padding": (("--padding",), {"choices": ["valid", "same"], "default": "valid",
                                 "help": "padding of the convolutions (default valid)"}),
    "no_pooling": (("--no-pooling",), {"action": "store_true",
                                       "help": "drop the pooling layers (~15.8 million params)"}),
    "augment": (("--augment",), {"action": "store_true",
                                 "help": "train on randomly distorted copies (data augmentation)"}),
    "maxlen": (("--maxlen",), {"type": int, "default": 20,
                               "help": "words kept per review (course: 20; also 100, 500)"}),
    "dropout": (("--dropout",), {"type": float, "default": 0.0,
                                 "help": "dropout of the recurrent layer's inputs"}),
    "recurrent_dropout": (("--recurrent-dropout",), {
        "type": float, "default": 0.0, "help": "dropout of the recurrent state"}),
    "embed_dim": (("--embed-dim",), {
        "type": int, "default": 8, "metavar": "N",
        "help": "output dimension of the embedding (course: 8; the ISLR2 textbook's LSTM lab: "
                "32)"}),
    "validation": (("--validation",), {
        "choices": ["split", "test"], "default": "split",
        "help": "split: hold out the last 20%% of the training reviews (the course's "
                "validation_split = 0.2); test: train on all training reviews and pass the "
                "test reviews as validation_data (the ISLR2 textbook lab), only to watch "
                "val_* per epoch: nothing is chosen by them"}),
    "sample": (("--sample",), {"type": float, "default": 0.05,
                               "help": "fraction of the 324-run grid to run (course: 0.05)"}),
    "train_size": (("--train-size",), {"type": int, "default": 1000,
                                       "help": "Fashion-MNIST training images (default 1000)"}),
}

_IMDB = ("maxlen", "embed_dim", "validation")
_RNN = (*_IMDB, "dropout", "recurrent_dropout")

LABS: dict[str, Lab] = {lab.name: lab for lab in (
    Lab("hitters-nn", "Hitters log salary: Dense(64) network vs linear regression and lasso",
        "hitters", epochs=200, quick_epochs=100, threads=1),
    Lab("hitters-cv", "Hitters network by repeated 10-fold CV vs linear regression and the "
        "lasso (resamples, corrected t-tests); conformal intervals, importance", "hitters_cv",
        epochs=200, quick_epochs=100, threads=1),
    Lab("hitters-wide-deep", "Hitters: numeric branch + embeddings of League/Division/"
        "NewLeague (functional, two inputs) vs the course's network", "hitters_wide_deep",
        epochs=200, quick_epochs=100, threads=1),
    Lab("mnist-logit", "MNIST multinomial logit regression (7,850 params), caret statistics",
        "mnist_dense", defaults={"model": "logit"}),
    Lab("mnist-mlp", "MNIST one hidden layer of 512 units (407,050 params)",
        "mnist_dense", defaults={"model": "mlp"}),
    Lab("mnist-mlp2", "MNIST 512-256 with dropout 0.4/0.3 (535,818 params); --no-dropout",
        "mnist_dense", options=("no_dropout",), defaults={"model": "mlp2"}),
    Lab("mnist-compare", "logit vs MLP vs MLP2 on the same test digits (McNemar, CIs)",
        "mnist_dense", function="run_compare"),
    Lab("mnist-tune", "tfruns-style grid (324 runs), a 5% sample, best by val_loss, its test stats",
        "mnist_tune", epochs=35, quick_epochs=2, options=("sample",)),
    Lab("mnist-cnn", "MNIST CNN (485,066 params), filters and feature maps; --padding "
        "same, --no-pooling, --augment", "mnist_cnn", quick_epochs=1,
        options=("padding", "no_pooling", "augment")),
    Lab("mnist-uncertainty", "MNIST MLP2: MC dropout, deep ensemble, conformal prediction "
        "sets (LAC/APS), saliency maps", "mnist_uncertainty", epochs=15, quick_epochs=2),
    Lab("transfer", "weight freezing: MNIST CNN fine-tuned on a small Fashion-MNIST subset",
        "transfer", epochs=10, quick_epochs=1, options=("train_size",)),
    Lab("imdb-tokenizer", "the course's tokenizer example (word index, sequences, one-hot)",
        "imdb_tokenizer", epochs=0, quick_epochs=0),
    Lab("imdb-embed", "IMDB embedding(10000, 8) + dense (80,161 params at maxlen 20)",
        "imdb_rnn", epochs=10, quick_epochs=6, options=_IMDB,
        defaults={"model": "embed"}),
    Lab("imdb-rnn", "IMDB embedding + SimpleRNN(32)", "imdb_rnn", epochs=10,
        quick_epochs=6, options=_RNN,
        defaults={"model": "rnn"}),
    Lab("imdb-rnn3", "IMDB embedding + three stacked SimpleRNN(32)", "imdb_rnn", epochs=10,
        quick_epochs=6, options=_RNN, defaults={"model": "rnn3"}),
    Lab("imdb-lstm", "IMDB embedding + LSTM(32)", "imdb_rnn", epochs=10,
        quick_epochs=6, options=_RNN,
        defaults={"model": "lstm"}),
    Lab("imdb-gru", "IMDB embedding + GRU(32)", "imdb_rnn", epochs=10,
        quick_epochs=6, options=_RNN,
        defaults={"model": "gru"}),
    Lab("imdb-bilstm", "IMDB embedding + bidirectional LSTM(32)", "imdb_rnn", epochs=10,
        quick_epochs=6, options=_RNN, defaults={"model": "bilstm"}),
    Lab("imdb-conv1d", "IMDB at 500 words: Embedding(10000, 32), Conv1D(32, 7), "
        "GlobalMaxPooling1D, Dense (327,233 params)", "imdb_conv1d", epochs=8, quick_epochs=2),
    Lab("mnist-autoencoder", "784-100-784 tanh autoencoder: codings of the test set, "
        "reconstructions", "mnist_autoencoders", epochs=10, defaults={"kind": "basic"}),
    Lab("mnist-stacked-ae", "stacked (deep) symmetric autoencoder", "mnist_autoencoders", epochs=10,
        defaults={"kind": "stacked"}),
    Lab("mnist-denoising", "denoising autoencoder, on/off and Gaussian corruption "
        "(Figures 20, 21)", "mnist_autoencoders", function="run_denoising", epochs=10),
    Lab("mnist-anomaly", "anomaly detection: error histogram, 10 worst digits, refit on "
        "the cleanest 75%", "mnist_autoencoders", function="run_anomaly", epochs=10),
    Lab("mnist-sparse-ae", "sparse autoencoder (L1 activity penalty on the codings)",
        "mnist_autoencoders", epochs=10, defaults={"kind": "sparse"}),
    Lab("mnist-conv-ae", "convolutional autoencoder", "mnist_autoencoders", epochs=10,
        quick_epochs=1, defaults={"kind": "convolutional"}),
    Lab("mnist-vae", "variational autoencoder: generated digits", "mnist_autoencoders", epochs=10,
        defaults={"kind": "variational"}),
    Lab("mnist-vae-keras", "the VAE the Keras-examples way (encoder and decoder models, "
        "Sampling layer, train_step) vs statdl.autoencoders' VAE", "vae_keras", epochs=10),
    Lab("mnist-contractive-ae", "contractive autoencoder", "mnist_autoencoders", epochs=10,
        defaults={"kind": "contractive"}),
    Lab("nyse-ar", "NYSE log volume from 5 lagged days: linear AR(5) by least squares, "
        "with and without day_of_week (ISLR2/ISLP Ch. 10)", "nyse", function="run_ar",
        epochs=0, quick_epochs=0, threads=1),
    Lab("nyse-rnn", "NYSE log volume: SimpleRNN(12), dropout 0.1, recurrent dropout 0.1, "
        "RMSprop, batch 64 (ISLR2/ISLP Ch. 10)", "nyse", function="run_rnn", epochs=200,
        quick_epochs=3, threads=1),
    Lab("nyse-conv1d", "NYSE log volume: nonlinear AR (flattened lags + day_of_week, "
        "Dense(32)) and a Conv1D(16, 3) network", "nyse", function="run_conv1d", epochs=100,
        quick_epochs=3, threads=1),
)}


def get_lab(name: str) -> Lab:
    """The lab called ``name``; a ConfigError suggesting the closest name otherwise.

    Examples
    --------
    >>> get_lab("mnst-cnn")
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `lab` must be the name of a lab (`statdl labs` lists them); got 'mnst-cnn'. Did you mean 'mnist-cnn'?
    """
    if name in LABS:
        return LABS[name]
    hint = did_you_mean(name, LABS)
    if hint:
        raise ConfigError(message("lab", "the name of a lab (`statdl labs` lists them)", name,
                                  fix=_sentence(hint)))
    raise ConfigError(message("lab", f"the name of a lab (`statdl labs` lists them: "
                                     f"{', '.join(LABS)})", name))


def _sentence(hints: str) -> str:
    """" did you mean 'x'?;..." (cli_parsing's hints) as sentences: "Did you mean 'x'?"."""
    return " ".join("D" + h.strip()[1:] for h in hints.split(";") if h.strip())


class _Parser(SuggestingParser):
    """A suggesting argument parser that raises ConfigError instead of exiting."""

    def error(self, message: str):  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def lab_parser(lab: Lab) -> _Parser:
    """The options of one lab: the common ones plus the lab's own."""
    p = _Parser(prog=f"statdl lab {lab.name}", description=lab.summary, allow_abbrev=False,
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("common options")
    g.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs (course: {lab.epochs}; --quick: {lab.quick_epochs})")
    g.add_argument("--seed", type=int, default=1001, help="seed of the weights and the splits")
    g.add_argument("--device", default="auto", help="auto, cpu or cuda")
    g.add_argument("--quick", action="store_true",
                   help="a small subset and 1-2 epochs: a look in seconds to a minute")
    g.add_argument("--data-dir", default=None,
                   help="folder holding the data (mnist/, aclImdb_labeled.tar.gz ...); "
                        "default $STATDL_DATA, the cache, or a download")
    g.add_argument("--runs-dir", default="runs", help="where the run folder is written")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: the cores other processes leave free, "
                        "checked every second; 1 for tiny models)")
    g.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                   help="0 silent, 1 progress bar, 2 one line per epoch")
    g.add_argument("--no-view", action="store_true", help="do not write the HTML report")
    if lab.options:
        own = p.add_argument_group(f"options of {lab.name}")
        for key in lab.options:
            flags, kwargs = OPTIONS[key]
            own.add_argument(*flags, dest=key, **kwargs)
    return p


def _check(args: argparse.Namespace) -> None:
    if args.epochs is not None and args.epochs < 0:
        raise ConfigError(message("--epochs", "an int >= 0", args.epochs))
    if args.seed < 0:
        raise ConfigError(message("--seed", "an int >= 0", args.seed))
    for key in ("dropout", "recurrent_dropout"):
        value = getattr(args, key, 0.0)
        if not 0 <= value < 1:
            raise ConfigError(message(f"--{key.replace('_', '-')}", "a number in [0, 1)", value))
    if getattr(args, "maxlen", 1) < 1:
        raise ConfigError(message("--maxlen", "an int >= 1", args.maxlen))
    embed_dim = getattr(args, "embed_dim", 1)
    if isinstance(embed_dim, bool) or not isinstance(embed_dim, Integral) or embed_dim < 1:
        raise ConfigError(message("--embed-dim", "an int >= 1 (course: 8, textbook: 32)",
                                  embed_dim))
    if getattr(args, "validation", "split") not in ("split", "test"):
        raise ConfigError(message("--validation", "'split' (the course's validation_split 0.2) "
                                  "or 'test' (the test set as validation data)", args.validation))
    if not 0 < getattr(args, "sample", 0.5) <= 1:
        raise ConfigError(message("--sample", "a number in (0, 1]", args.sample))
    if getattr(args, "train_size", 10) < 10:
        raise ConfigError(message("--train-size", "an int >= 10", args.train_size))


def parse_lab_args(lab: Lab, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv`` for ``lab``; unknown options raise a ConfigError naming the valid ones."""
    parser = lab_parser(lab)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        valid = sorted(o for a in parser._actions for o in a.option_strings)
        hint = parser.option_hint(unknown)
        raise ConfigError(message("options", f"options that lab {lab.name!r} takes "
                                             f"({', '.join(valid)})", " ".join(unknown),
                                  fix=_sentence(hint) or None))
    _check(args)
    return args


def run_lab(name: str, **options: Any) -> dict[str, Any]:
    """Run a lab from Python, e.g. ``run_lab("hitters-nn", quick=True)``; returns its results.

    Options are the command-line options with ``_`` for ``-`` (``data_dir``, ``maxlen`` ...).

    Examples
    --------
    >>> run_lab("no-such-lab")
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `lab` must be the name of a lab (`statdl labs` lists them: ...
    """
    lab = get_lab(name)
    args = lab_parser(lab).parse_args([])
    for key, value in options.items():
        if not hasattr(args, key):
            valid = ", ".join(sorted(vars(args)))
            raise ConfigError(message("options", f"options that lab {name!r} takes ({valid})",
                                      key, "run_lab"))
        setattr(args, key, value)
    _check(args)
    return execute(lab, args)


def execute(lab: Lab, args: argparse.Namespace) -> dict[str, Any]:
    """Run ``lab`` with parsed ``args`` inside a recorded run folder; return its results.

    The lab runs in this process and leaves it as it found it (environment, ``sys.stdout``,
    thread policy and torch's count, random generators; see :func:`._state.process_kept`).
    """
    from ._state import process_kept

    with process_kept():
        return _execute(lab, args)


def _execute(lab: Lab, args: argparse.Namespace) -> dict[str, Any]:
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    from ..utils import resolve_device, set_seed
    from ._common import data_dir
    from ._run import LabRun

    if args.epochs is None:
        args.epochs = lab.quick_epochs if args.quick else lab.epochs
    resolve_device(args.device)               # a clear error for a bad --device, up front
    for key, value in lab.defaults.items():
        setattr(args, key, value)
    module = importlib.import_module(f"statdl.labs.{lab.module}")
    function = getattr(module, lab.function)
    options = {k: v for k, v in vars(args).items() if k not in ("func", "name", "options")}
    threads = args.threads or lab.threads
    if threads:
        set_threads(threads)  # a fixed count; otherwise fit follows the free cores
    with data_dir(args.data_dir):
        set_seed(args.seed)
        with LabRun(lab.name, options, module.__file__, args.runs_dir,
                    view=not args.no_view) as run:
            results = function(args, run) or {}
            run.record({"lab": lab.name, "quick": bool(args.quick), "epochs": args.epochs})
    out = {**run.results, **results, "run_dir": str(run.path)}
    if not args.no_view:
        print(f"Results, figures and the HTML report: {run.path / 'view.html'}")
    return out
