"""The Keras model summary table (the layout R's keras prints)."""

from __future__ import annotations

__all__ = ["format_summary"]

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
                   non_trainable: int) -> str:
    """Render the table: ``rows`` are (``"name (Type)"``, output shape text, param count).

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
