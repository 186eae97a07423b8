"""``statdl demo``: a short, real end-to-end run on data shipped inside the package.

1. Hitters (ISLR2): log salary from 19 predictors with the course's Dense(64) network,
   test MSE and MAE with intervals.
2. MNIST sample (6,000 training and 1,000 test digits shipped with statdl): the course's
   512-unit network, caret-style confusion statistics on the test digits.
"""

from __future__ import annotations

import argparse
import time


def run_hitters(epochs: int = 100, seed: int = 1001, verbose: int = 1) -> dict:
    """The course's Hitters network; returns the test-set regression report as a dict."""
    import statdl as sd
    from statdl import layers as L

    sd.set_seed(seed)
    x, y = sd.datasets.hitters(response="log_salary")
    (x_train, y_train), (x_test, y_test) = sd.train_test_split(x, y, test_size=0.3, seed=seed)
    scaled = sd.scale(x_train)
    x_train, x_test = scaled.x, scaled.apply(x_test)
    model = sd.Sequential([L.Dense(64, activation="relu"), L.Dense(1)],
                          input_shape=(x_train.shape[1],), name="hitters_nn")
    model.summary()
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32,
              validation_data=(x_test, y_test), verbose=verbose)
    report = sd.regression_report(y_test, model.predict(x_test)[:, 0])
    print("\nHitters, log(Salary), test set (course: MSE 0.353):")
    print(report)
    return report


def run_mnist_sample(epochs: int = 5, seed: int = 1, verbose: int = 1):
    """The course's one-hidden-layer MNIST network on the shipped 6,000-digit sample."""
    import statdl as sd
    from statdl import layers as L

    sd.set_seed(seed)
    (x_train, y_train), (x_test, y_test) = sd.datasets.mnist_sample()
    x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
    x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
    model = sd.Sequential([L.Dense(512, activation="relu"), L.Dense(10, activation="softmax")],
                          input_shape=(784,), name="mnist_mlp")
    model.summary()
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, sd.to_categorical(y_train, 10), epochs=epochs, batch_size=128,
              validation_split=0.2, verbose=verbose)
    cm = sd.confusion_matrix(model.predict_classes(x_test), y_test)
    print("\nMNIST sample (6,000 training digits), 1,000 test digits:")
    print(cm)
    return cm


def main(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    run_hitters(epochs=args.epochs_hitters, verbose=args.verbose)
    print()
    run_mnist_sample(epochs=args.epochs_mnist, verbose=args.verbose)
    print(f"\nDemo finished in {time.perf_counter() - start:.0f} s.")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="train and evaluate two small real models end to end (a minute or two)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--epochs-hitters", type=int, default=100)
    parser.add_argument("--epochs-mnist", type=int, default=5)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    parser.set_defaults(func=main)
