"""``statdl labs`` (list the labs), ``statdl lab NAME [options]`` (run one), ``statdl lab NAME
--notebook PATH`` (write it as a notebook) and ``statdl notebooks DIR`` (all of them)."""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from ..validation import message
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
    path, options = _notebook_option(list(args.options))
    if path is not None:
        from .notebooks import _write

        if options:
            raise ConfigError(message(
                "--notebook", "the only option (it writes the notebook only)", options,
                fix=f"Set {' '.join(options)} in its parameter cell instead.",
                shown=" ".join(options)))
        written = _write(lab.name, path, ("--notebook", "statdl lab"))
        print(f"Notebook of lab {lab.name}: {written}")
        return 0
    execute(lab, parse_lab_args(lab, options))
    return 0


def _notebook_option(options: list[str]) -> tuple[str | None, list[str]]:
    """``--notebook PATH`` (or ``--notebook=PATH``) taken out of a lab's options."""
    for i, option in enumerate(options):
        if option.startswith("--notebook="):
            return option.split("=", 1)[1], options[:i] + options[i + 1:]
        if option == "--notebook":
            if i + 1 >= len(options):
                raise ConfigError(message(
                    "--notebook", "followed by a path: statdl lab NAME --notebook lab.ipynb",
                    None, shown="no path"))
            return options[i + 1], options[:i] + options[i + 2:]
    return None, options


def _notebooks(args: argparse.Namespace) -> int:
    from .notebooks import _write_all, not_expressed

    paths = _write_all(args.directory, ("DIR", "statdl notebooks"))
    print(f"{len(paths)} notebooks in {args.directory}")
    runners = not_expressed()
    if runners:
        print(f"Run through statdl.labs.run_lab (not yet written out cell by cell): "
              f"{', '.join(runners)}")
    return 0


def register(subparsers) -> None:
    """Add ``labs`` and ``lab`` to the ``statdl`` command."""
    p = subparsers.add_parser("labs", help="list the course's worked examples")
    p.set_defaults(func=_labs)
    p = subparsers.add_parser(
        "lab", help="run one of the course's worked examples (statdl lab NAME --help)",
        description="Run a lab: `statdl lab NAME [--quick] [--epochs N] [--seed S] "
                    "[--device D] [--data-dir DIR] [lab options]`, or write it as a "
                    "notebook: `statdl lab NAME --notebook PATH`.\n\n" + list_labs(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", metavar="NAME", help="the lab (see `statdl labs`)")
    p.add_argument("options", nargs=argparse.REMAINDER, help="options of the lab")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_lab)
    p = subparsers.add_parser(
        "notebooks", help="write every lab as a Jupyter notebook (needs statdl[jupyter])",
        description="Write each lab as DIR/NAME.ipynb: the worked example in statdl's public "
                    "API with a `parameters` cell (quick settings). One lab: `statdl lab NAME "
                    "--notebook PATH`.")
    p.add_argument("directory", metavar="DIR", help="folder for the notebooks (created)")
    p.set_defaults(func=_notebooks)
