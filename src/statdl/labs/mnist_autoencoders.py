"""Autoencoder labs (course "Autoencoders" to "Other various autoencoders").

``mnist-autoencoder``: the course's 784-100-784 tanh autoencoder written as the course writes it,
with the functional API (``input_layer``, ``encoder``, ``en = Model(input_layer, encoder)``,
``decoder``, ``auto_encode = Model(input_layer, decoder)``), Adam, MSE, batch 256; after training
``auto_encode``, ``en.predict`` gives the codings of the first test digits
(``encoded_imgs[1:10, 1:5]``) through the shared weights, and reconstructions (Figure 18).
``mnist-stacked-ae``, ``mnist-sparse-ae``, ``mnist-conv-ae``, ``mnist-vae`` (generated digits)
and ``mnist-contractive-ae`` change only the builder. ``mnist-denoising`` trains on corrupted
inputs (on/off imputation and Gaussian noise, about 30%: Figures 20 and 21); ``mnist-anomaly``
ranks training digits by reconstruction MSE (Figures 22 and 23) and refits on the cleanest 75%.
"""

from __future__ import annotations

import argparse

import numpy as np

import statdl as sd
from statdl.autoencoders import AnomalyDetector, Autoencoder, ConvAutoencoder, corrupt

from ._common import Timer, headline, mnist_data, with_interval

CORRUPTION = {"masking": "on/off imputed (30% set to 0)", "gaussian": "Gaussian noise (sd 0.3)"}


def course_autoencoder(input_dim: int = 784, output_dim: int = 100) -> tuple[sd.Model, sd.Model]:
    """The course's autoencoder, line by line: ``(en, auto_encode)`` sharing the encoder.

    Examples
    --------
    >>> en, auto_encode = course_autoencoder()
    >>> en.count_params(), auto_encode.count_params()       # 784*100+100, + 100*784+784
    (78500, 157684)
    """
    from statdl import layers as L

    input_layer = sd.Input(input_dim)
    encoder = L.Dense(output_dim, activation="tanh")(input_layer)
    en = sd.Model(input_layer, encoder)                   # to extract the codings
    decoder = L.Dense(input_dim)(encoder)
    auto_encode = sd.Model(input_layer, decoder)
    return en, auto_encode


def build(kind: str):
    """The autoencoder of each lab (``basic`` is :func:`course_autoencoder`, built in ``run``)."""
    if kind == "basic":
        return Autoencoder(784, 100)                                   # 784-100-784, tanh
    if kind == "stacked":
        return Autoencoder(784, 64, hidden=(256, 128))                 # 784-256-128-64-...
    if kind == "sparse":
        return Autoencoder(784, 100, sparsity_l1=1e-5)
    if kind == "contractive":
        return Autoencoder(784, 100, contractive=1e-4)
    if kind == "variational":
        return Autoencoder(784, 2, hidden=(256,), activation="relu", variational=True,
                           output_activation="sigmoid")
    return ConvAutoencoder((28, 28, 1), filters=(16, 8))


def _train(args: argparse.Namespace, ae, x_train: np.ndarray, timer: Timer):
    ae.summary()
    ae.compile(optimizer="adam", loss="mse", device=args.device)
    with timer:
        return ae.fit(x_train, epochs=args.epochs, batch_size=256, validation_split=0.1,
                      verbose=args.verbose)


def _reconstruction_results(run, model, recon: np.ndarray, x_test: np.ndarray, history,
                            timer: Timer, extra: dict | None = None) -> dict:
    errors = ((x_test.reshape(len(x_test), -1) - recon.reshape(len(x_test), -1)) ** 2).mean(1)
    mse = float(errors.mean())
    half = 1.96 * float(errors.std(ddof=1)) / np.sqrt(len(errors))
    print(f"\nTest reconstruction MSE: {mse:.5f} (95% CI {mse - half:.5f}-{mse + half:.5f})")
    run.figure(sd.plot_history(history), "history",
               "Reconstruction loss (MSE) per epoch, training and validation digits")
    run.figure(sd.plot_reconstructions(x_test[:10], recon[:10], data="test"), "reconstructions",
               "Ten test digits and the autoencoder's reconstructions of them")
    results = {"headline": headline("reconstruction MSE", mse, mse - half, mse + half,
                                    higher_is_better=False),
               "fit_seconds": timer.seconds, **(extra or {})}
    run.record(results, history=history, model=model,
               evaluation=with_interval("reconstruction_mse", mse, mse - half, mse + half))
    return results


def run(args: argparse.Namespace, run) -> dict:
    """Train the lab's autoencoder on the training digits; reconstruct the test digits."""
    x_train, _, x_test, _ = mnist_data(args, "image" if args.kind == "convolutional" else "flat")
    timer = Timer()
    if args.kind == "basic":
        return _run_course(args, run, x_train, x_test, timer)
    ae = build(args.kind)
    history = _train(args, ae, x_train, timer)
    extra: dict = {}
    if args.kind != "convolutional":
        codings = ae.codings(x_test)
        print("\nCodings of the test set, encoded_imgs[1:10, 1:5]:")
        print(np.array2string(codings[:10, :5], precision=8, suppress_small=False))
        extra["codings_head"] = codings[:10, :5].tolist()
    if args.kind == "variational":
        run.figure(sd.plot_images(ae.sample(16, seed=args.seed), ncol=8,
                                  title="Digits generated from N(0, I) codings"), "generated",
                   "16 digits the decoder generates from random N(0, I) codings")
    return _reconstruction_results(run, ae.model, ae.reconstruct(x_test), x_test, history,
                                   timer, extra)


def _run_course(args: argparse.Namespace, run, x_train: np.ndarray, x_test: np.ndarray,
                timer: Timer) -> dict:
    """``mnist-autoencoder``: train ``auto_encode``, then codings from ``en`` (shared weights)."""
    en, auto_encode = course_autoencoder(x_train.shape[1])
    auto_encode.compile(loss="mean_squared_error", optimizer="adam", device=args.device)
    auto_encode.summary()
    with timer:
        history = auto_encode.fit(x_train, x_train, epochs=args.epochs, batch_size=256,
                                  validation_split=0.1, verbose=args.verbose)
    encoded_imgs = en.predict(x_test)
    print("\nCodings of the test set, encoded_imgs[1:10, 1:5]:")
    print(np.array2string(encoded_imgs[:10, :5], precision=8, suppress_small=False))
    return _reconstruction_results(run, auto_encode, auto_encode.predict(x_test), x_test,
                                   history, timer, {"codings_head": encoded_imgs[:10, :5].tolist()})


def run_denoising(args: argparse.Namespace, run) -> dict:
    """Denoising autoencoders with on/off imputation and with Gaussian noise (rate 0.3)."""
    x_train, _, x_test, _ = mnist_data(args)
    examples = [x_test[:1], corrupt(x_test[:1], "masking", 0.3, seed=args.seed),
                corrupt(x_test[:1], "gaussian", 0.3, seed=args.seed)]
    run.figure(sd.plot_images(np.concatenate(examples), ["original", "on/off imputation",
                                                         "Gaussian noise"], ncol=3),
               "corruptions", "A test digit as it is, with on/off imputation (30% of the "
               "pixels set to 0) and with Gaussian noise (sd 0.3)")   # Figure 20
    out: dict = {}
    timer = Timer()
    for kind in ("masking", "gaussian"):
        print(f"\n=== denoising autoencoder, {kind} corruption ===")
        ae = Autoencoder(784, 100, corruption=kind, corruption_rate=0.3)
        history = _train(args, ae, x_train, timer)
        noisy = corrupt(x_test[:10], kind, 0.3, seed=args.seed)
        recon = ae.reconstruct(noisy)
        run.figure(sd.plot_reconstructions(x_test[:10], recon, corrupted=noisy, data="test"),
                   f"denoised_{kind}", f"Ten test digits, their {CORRUPTION[kind]} copies "
                   "and the denoising autoencoder's reconstructions")  # Figure 21
        test_noisy = corrupt(x_test, kind, 0.3, seed=args.seed)
        mse = float(((ae.reconstruct(test_noisy) - x_test) ** 2).mean())
        print(f"Test MSE between clean digits and reconstructions of corrupted ones: {mse:.5f}")
        out[kind] = {"denoising_mse": mse}
        run.record(history=history, model=ae.model)
    results = {"headline": headline("denoising MSE (on/off)", out["masking"]["denoising_mse"],
                                    higher_is_better=False), "fit_seconds": timer.seconds,
               **out}
    run.record(results, evaluation={f"{k}_mse": v["denoising_mse"] for k, v in out.items()})
    return results


def run_anomaly(args: argparse.Namespace, run) -> dict:
    """Reconstruction errors of the training digits; worst 10; refit on the cleanest 75%."""
    x_train, y_train, x_test, _ = mnist_data(args)
    timer = Timer()
    ae = Autoencoder(784, 100)
    ae.summary()
    ae.compile(optimizer="adam", loss="mse", device=args.device)
    fit = {"epochs": args.epochs, "batch_size": 256, "verbose": args.verbose}
    with timer:
        detector = AnomalyDetector(ae, quantile=0.99).fit(x_train, **fit)
    run.figure(detector.plot_errors(), "error_histogram", "Reconstruction errors (MSE) of the "
               "training digits and the anomaly threshold")                  # Figure 22
    run.figure(detector.plot_worst(x_train, 10, labels=y_train, data="training"),
               "worst_10", "The 10 training digits with the largest reconstruction "
               "errors, and their labels")                                   # Figure 23
    idx, worst = detector.worst(x_train, 10)
    print("\nThe 10 training digits with the largest reconstruction MSE:")
    for i, e in zip(idx, worst):
        print(f"  row {i + 1:>6}  label {y_train[i]}  MSE {e:.4f}")
    print("\nRefit on the training digits within the 75th percentile of the error:")
    ae2 = Autoencoder(784, 100)
    ae2.compile(optimizer="adam", loss="mse", device=args.device)
    with timer:
        clean = AnomalyDetector(ae2, quantile=0.99, refit_on_clean=0.75).fit(x_train, **fit)
    flagged = clean.predict(x_test)
    share = float(flagged.mean())
    print(f"Threshold (99th percentile of the clean digits' errors): {clean.threshold_:.4f}; "
          f"{int(flagged.sum())} of {len(x_test)} test digits ({100 * share:.1f}%) flagged.")
    run.figure(clean.plot_errors(x_test, data="test"), "test_error_histogram",
               "Reconstruction errors of the test digits under the autoencoder refitted on "
               "the cleanest 75% of the training digits, and its threshold")
    results = {"headline": headline("test digits flagged", share, higher_is_better=False),
               "worst_rows": (idx + 1).tolist(), "worst_errors": worst.tolist(),
               "threshold": clean.threshold_, "fit_seconds": timer.seconds}
    run.record(results, history=clean.history_, model=ae2.model,
               evaluation={"threshold": clean.threshold_, "test_flagged": share})
    return results
