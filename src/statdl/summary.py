"""The Keras model summary table: R keras's layout (as in the course) or Keras 3's box table."""

from __future__ import annotations

import shutil

from .errors import ConfigError

__all__ = ["format_summary", "STYLES"]

#: ``"r"``: the layout R's keras prints (the course's printouts); ``"keras3"``: Keras 3's table.
STYLES = ("r", "keras3")
BYTES_PER_PARAM = 4  # float32 weights

LINE_LENGTH = 65
POSITIONS = [int(LINE_LENGTH * p) for p in (0.45, 0.85, 1.0)]


def _row(fields: list[str]) -> str:
    line = ""
    for i, field in enumerate(fields):
        if i > 0:
            line = line[:-1] + " "
        line += str(field)
        line = line[: POSITIONS[i]]
        line += " " * (POSITIONS[i] - len(line))
    return line.rstrip()


def format_summary(name: str, rows: list[tuple[str, str, int]], trainable: int,
                   non_trainable: int, style: str = "r") -> str:
    """Render the table: ``rows`` are (``"name (Type)"``, output shape text, param count).

    ``style="r"`` gives R keras's layout (the course's printouts), ``style="keras3"`` Keras 3's
    box-drawn table with parameter sizes (see :func:`format_summary_keras3`).

    Examples
    --------
    >>> print(format_summary("m", [("dense (Dense)", "(None, 1)", 3)], 3, 0))
    ... # doctest: +NORMALIZE_WHITESPACE
    Model: "m"
    _________________________________________________________________
    Layer (type)                 Output Shape              Param #
    =================================================================
    dense (Dense)                (None, 1)                 3
    =================================================================
    Total params: 3
    Trainable params: 3
    Non-trainable params: 0
    _________________________________________________________________
    """
    if style not in STYLES:
        raise ConfigError(f"`style` of summary must be one of {', '.join(map(repr, STYLES))}; "
                          f"got {style!r}.")
    if style == "keras3":
        return format_summary_keras3(name, rows, trainable, non_trainable)
    lines = [f'Model: "{name}"', "_" * LINE_LENGTH,
             _row(["Layer (type)", "Output Shape", "Param #"]), "=" * LINE_LENGTH]
    for i, (label, shape, count) in enumerate(rows):
        lines.append(_row([label, shape, str(count)]))
        lines.append(("=" if i == len(rows) - 1 else "_") * LINE_LENGTH)
    if not rows:
        lines.append("=" * LINE_LENGTH)
    lines += [
        f"Total params: {trainable + non_trainable:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {non_trainable:,}",
        "_" * LINE_LENGTH,
    ]
    return "\n".join(lines)


def _readable_size(n_bytes: float) -> str:
    """Keras 3's ``readable_memory_size``: 795.04 KB, 0.00 B."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes / 1024 < 1:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


def format_summary_keras3(name: str, rows: list[tuple[str, str, int]], trainable: int,
                          non_trainable: int, line_length: int | None = None) -> str:
    """Keras 3's ``model.summary()`` table, drawn with rich exactly as Keras draws it.

    The table is ``line_length`` characters wide: by default Keras's
    ``min(88, terminal columns - 4)``. Sizes assume float32 weights (4 bytes each).

    Examples
    --------
    >>> print(format_summary_keras3("m", [("dense (Dense)", "(None, 1)", 3)], 3, 0, 50))
    Model: "m"
    ┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━┓
    ┃ Layer (type)        ┃ Output Shape   ┃ Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━┩
    │ dense (Dense)       │ (None, 1)      │       3 │
    └─────────────────────┴────────────────┴─────────┘
     Total params: 3 (12.00 B)
     Trainable params: 3 (12.00 B)
     Non-trainable params: 0 (0.00 B)
    """
    import rich.console
    import rich.markup
    import rich.table

    columns_available = shutil.get_terminal_size().columns
    if line_length is None:
        line_length = min(88, columns_available - 4)
    widths, current = [], 0
    for pos in (0.45, 0.80, 1.0):
        widths.append(int(pos * line_length) - current)
        current += widths[-1]
    table = rich.table.Table(
        *(rich.table.Column(head, justify=just, width=w) for head, just, w in
          zip(("Layer (type)", "Output Shape", "Param #"), ("left", "left", "right"), widths)),
        width=line_length, show_lines=True)
    for label, shape, count in rows:
        table.add_row(rich.markup.escape(label), shape, f"{count:,}")
    console = rich.console.Console(width=max(columns_available, line_length), highlight=False,
                                   force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(f'Model: "{rich.markup.escape(name)}"')
        console.print(table)
        for what, count in (("Total", trainable + non_trainable), ("Trainable", trainable),
                            ("Non-trainable", non_trainable)):
            console.print(f" {what} params: {count:,} "
                          f"({_readable_size(count * BYTES_PER_PARAM)})")
    return "\n".join(line.rstrip() for line in capture.get().splitlines())
