"""The Keras model summary table: R keras's layout (as in the course) or Keras 3's box table."""

from __future__ import annotations

import shutil

from . import validation

__all__ = ["format_summary", "STYLES"]

#: ``"r"``: the layout R's keras prints (the course's printouts); ``"keras3"``: Keras 3's table.
STYLES = ("r", "keras3")
BYTES_PER_PARAM = 4  # float32 weights

LINE_LENGTH = 65
POSITIONS = [int(LINE_LENGTH * p) for p in (0.45, 0.85, 1.0)]
#: graphs that are not a chain get a fourth column, "Connected to" (R keras's layout)
GRAPH_LINE_LENGTH = 98
GRAPH_POSITIONS = [int(GRAPH_LINE_LENGTH * p) for p in (0.33, 0.55, 0.67, 1.0)]


def _row(fields: list[str], positions: list[int] = POSITIONS) -> str:
    line = ""
    for i, field in enumerate(fields):
        if i > 0:
            line = line[:-1] + " "
        line += str(field)
        line = line[: positions[i]]
        line += " " * (positions[i] - len(line))
    return line.rstrip()


def format_summary(name: str, rows: list[tuple], trainable: int,
                   non_trainable: int, style: str = "r") -> str:
    """Render the table: ``rows`` are (``"name (Type)"``, output shape text, param count), or
    with a fourth field, the "Connected to" text (``"dense[0][0], input_1[0][0]"``), which adds
    Keras's fourth column for graphs.

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
    validation.check_choice(style, "style", STYLES, "summary")
    if style == "keras3":
        return format_summary_keras3(name, rows, trainable, non_trainable)
    graph = bool(rows) and len(rows[0]) == 4
    width, positions = (GRAPH_LINE_LENGTH, GRAPH_POSITIONS) if graph else \
        (LINE_LENGTH, POSITIONS)
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if graph else [])
    lines = [f'Model: "{name}"', "_" * width, _row(header, positions), "=" * width]
    for i, row in enumerate(rows):
        label, shape, count = row[:3]
        if graph:  # R keras: one connection per line
            links = row[3].split(", ")
            lines.append(_row([label, shape, str(count), links[0]], positions))
            lines += [_row(["", "", "", link], positions) for link in links[1:]]
        else:
            lines.append(_row([label, shape, str(count)], positions))
        lines.append(("=" if i == len(rows) - 1 else "_") * width)
    if not rows:
        lines.append("=" * width)
    lines += [
        f"Total params: {trainable + non_trainable:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {non_trainable:,}",
        "_" * width,
    ]
    return "\n".join(lines)


def _readable_size(n_bytes: float) -> str:
    """Keras 3's ``readable_memory_size``: 795.04 KB, 0.00 B."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes / 1024 < 1:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


def format_summary_keras3(name: str, rows: list[tuple], trainable: int,
                          non_trainable: int, line_length: int | None = None) -> str:
    """Keras 3's ``model.summary()`` table, drawn with rich exactly as Keras draws it.

    The table is ``line_length`` characters wide: by default Keras's
    ``min(88, terminal columns - 4)`` (``min(108, ...)`` with the "Connected to" column of
    rows with four fields). Sizes assume float32 weights (4 bytes each).

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

    graph = bool(rows) and len(rows[0]) == 4
    columns_available = shutil.get_terminal_size().columns
    if line_length is None:
        line_length = min(108 if graph else 88, columns_available - 4)
    widths, current = [], 0
    for pos in ((0.3, 0.56, 0.74, 1.0) if graph else (0.45, 0.80, 1.0)):
        widths.append(int(pos * line_length) - current)
        current += widths[-1]
    heads = ("Layer (type)", "Output Shape", "Param #", "Connected to")
    justify = ("left", "left", "right", "left")
    table = rich.table.Table(
        *(rich.table.Column(head, justify=just, width=w) for head, just, w in
          zip(heads, justify, widths)),
        width=line_length, show_lines=True)
    for row in rows:
        label, shape, count = row[:3]
        table.add_row(rich.markup.escape(label), shape, f"{count:,}",
                      *(rich.markup.escape(x) for x in row[3:]))
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
