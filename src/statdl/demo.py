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


def tour_labs(labs: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """The labs to run, with what each shows: the tour, or ``labs`` (any lab) in that order.

    Every name is checked before anything runs.

    Examples
    --------
    >>> [name for name, _ in tour_labs(("imdb-tokenizer",))]
    ['imdb-tokenizer']
    >>> tour_labs(("mnst-cnn",))
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `lab` must be the name of a lab (`statdl labs` lists them); got 'mnst-cnn'. Did you mean 'mnist-cnn'?
    """
    from .labs._registry import get_lab

    if labs is None:
        return list(TOUR)
    described = dict(TOUR)
    return [(name, described.get(name) or get_lab(name).summary)
            for name in (get_lab(n).name for n in labs)]


def run_tour(runs_dir: str = "runs", labs: tuple[str, ...] | None = None) -> list[dict]:
    """Run the tour's labs (or the named ones) with ``quick=True``; return each lab's results.

    Examples
    --------
    >>> results = run_tour(labs=("imdb-tokenizer",))   # doctest: +SKIP
    """
    from .labs._registry import run_lab

    chosen = tour_labs(labs)
    results = []
    for i, (name, what) in enumerate(chosen, 1):
        print(f"\n{'=' * 65}\n[{i}/{len(chosen)}] statdl lab {name} --quick: {what}\n"
              f"{'=' * 65}", flush=True)
        results.append(run_lab(name, quick=True, runs_dir=runs_dir))
    return results


def main(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    labs = tuple(n.strip() for n in args.labs.split(",") if n.strip()) if args.labs else None
    run_tour(args.runs_dir, labs or None)
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
                        help="comma-separated labs to run with --quick instead of the tour ("
                             + ", ".join(n for n, _ in TOUR) + "); `statdl labs` lists all")
    parser.set_defaults(func=main)
