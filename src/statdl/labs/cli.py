"""``statdl labs`` (list the labs) and ``statdl lab NAME [options]`` (run one)."""

from __future__ import annotations

import argparse

from ._registry import LABS, execute, get_lab, lab_parser, parse_lab_args

__all__ = ["register", "list_labs"]


def list_labs() -> str:
    """One line per lab: its name and what it does."""
    width = max(map(len, LABS))
    lines = [f"  {name:<{width}}  {lab.summary}" for name, lab in LABS.items()]
    return "\n".join(["Labs (run one with `statdl lab NAME`, e.g. `statdl lab hitters-nn "
                      "--quick`):", *lines,
                      "Every lab takes --epochs, --seed, --device, --quick, --data-dir, "
                      "--runs-dir; `statdl lab NAME --help` shows its own options."])


def _labs(args: argparse.Namespace) -> int:
    print(list_labs())
    return 0


def _lab(args: argparse.Namespace) -> int:
    if not args.name:
        print(list_labs())
        return 0
    lab = get_lab(args.name)
    if any(a in ("-h", "--help") for a in args.options):
        lab_parser(lab).print_help()
        return 0
    execute(lab, parse_lab_args(lab, list(args.options)))
    return 0


def register(subparsers) -> None:
    """Add ``labs`` and ``lab`` to the ``statdl`` command."""
    p = subparsers.add_parser("labs", help="list the course's worked examples")
    p.set_defaults(func=_labs)
    p = subparsers.add_parser(
        "lab", help="run one of the course's worked examples (statdl lab NAME --help)",
        description="Run a lab: `statdl lab NAME [--quick] [--epochs N] [--seed S] "
                    "[--device D] [--data-dir DIR] [lab options]`.\n\n" + list_labs(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", metavar="NAME", help="the lab (see `statdl labs`)")
    p.add_argument("options", nargs=argparse.REMAINDER, help="options of the lab")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_lab)
