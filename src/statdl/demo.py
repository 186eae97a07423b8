"""``statdl demo``: a quick tour of the course on data shipped inside the package.

Runs a few labs with ``--quick`` (Hitters, the MNIST sample of 6,000 training and 1,000 test
digits, the tokenizer example): each prints its model summary, a progress bar and its
statistics, and writes a run folder with figures and an HTML report. About a minute on 2 cores.
`statdl lab NAME` runs any lab at the course's full settings.
"""

from __future__ import annotations

import argparse
import time

TOUR = (
    ("hitters-nn", "a regression network on Hitters, against linear regression and the lasso"),
    ("mnist-mlp2", "a dense network with dropout on the MNIST sample, caret statistics"),
    ("mnist-cnn", "the course's CNN on the MNIST sample, filters and feature maps"),
    ("imdb-tokenizer", "the course's tokenizer example"),
    ("mnist-autoencoder", "the 784-100-784 autoencoder, codings and reconstructions"),
    ("mnist-anomaly", "anomaly detection from reconstruction errors"),
)


def run_tour(runs_dir: str = "runs", labs: tuple[str, ...] | None = None) -> list[dict]:
    """Run the tour's labs with ``quick=True``; return each lab's results.

    Examples
    --------
    >>> results = run_tour(labs=("imdb-tokenizer",))   # doctest: +SKIP
    """
    from .labs._registry import run_lab

    chosen = [(name, what) for name, what in TOUR if labs is None or name in labs]
    results = []
    for i, (name, what) in enumerate(chosen, 1):
        print(f"\n{'=' * 65}\n[{i}/{len(chosen)}] statdl lab {name} --quick: {what}\n"
              f"{'=' * 65}", flush=True)
        results.append(run_lab(name, quick=True, runs_dir=runs_dir))
    return results


def main(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    labs = tuple(args.labs.split(",")) if args.labs else None
    run_tour(args.runs_dir, labs)
    print(f"\nTour finished in {time.perf_counter() - start:.0f} s. Each lab's run folder, "
          f"figures and HTML report (view.html) are under '{args.runs_dir}/': list them with "
          "`statdl runs ls`, open one with `statdl runs view RUN`.")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="a quick tour: a few labs on the data shipped with statdl (about a minute)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs-dir", default="runs", help="where the labs' run folders go")
    parser.add_argument("--labs", default=None,
                        help="comma-separated subset of: " + ", ".join(n for n, _ in TOUR))
    parser.set_defaults(func=main)
