"""A run's console output: copied from a child process's pipe, or teed from this process.

Both end in ``statdl.d/output.txt`` (``output.txt.partial`` while the run goes on); see
:class:`statdl.run_folders.writer.RunWriter`, which uses them.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import re
import select
import threading
from collections import deque
from pathlib import Path
from typing import Any, TextIO

__all__ = ["OutputCapture", "Tee", "clean_output", "OUTPUT_HEAD_BYTES", "OUTPUT_TAIL_BYTES"]

_POSIX = os.name == "posix"
OUTPUT_HEAD_BYTES = 1 << 20      # a run's output file keeps its first MiB ...
OUTPUT_TAIL_BYTES = 1 << 20      # ... and its last MiB
OUTPUT_GRACE_S = 2.0             # how long output is still read after the script exits
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_EPOCH = re.compile(r"^\s*Epoch (\d+)/(\d+)")


class OutputCapture:
    """Copy a child's output into a file (and optionally to the console) on a thread.

    Only the first ``head`` and the last ``tail`` bytes are kept when the output is larger;
    the file then says how many bytes were left out between them. :meth:`finish` never
    blocks for long: a process the script left behind that still holds its output is not
    waited for.
    """

    def __init__(self, stream: Any, path: Path, echo: TextIO | None,
                 head: int = OUTPUT_HEAD_BYTES, tail: int = OUTPUT_TAIL_BYTES) -> None:
        self.fd = stream.fileno()
        self.stream, self.path, self.echo = stream, path, echo
        self.head, self.tail = head, tail
        self.total = self.written = 0
        self.tail_chunks: deque[bytes] = deque()
        self.tail_size = 0
        self.file = open(path, "wb")  # noqa: SIM115 - closed by finish()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._pump, daemon=True,
                                       name="statdl-output")
        self.thread.start()

    def _pump(self) -> None:
        while True:
            if _POSIX:
                if self.stop.is_set():
                    return
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if not ready:
                    continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                if self.file.closed:
                    return
                self._keep(chunk)

    def _keep(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.echo is not None:
            self.echo.write(self.decoder.decode(chunk))
            self.echo.flush()
        room = self.head - self.written
        if room > 0:
            self.file.write(chunk[:room])
            self.file.flush()
            self.written += min(room, len(chunk))
            chunk = chunk[room:]
        if chunk:
            self.tail_chunks.append(chunk)
            self.tail_size += len(chunk)
            while self.tail_size - len(self.tail_chunks[0]) >= self.tail:
                self.tail_size -= len(self.tail_chunks.popleft())

    def finish(self, grace: float = OUTPUT_GRACE_S) -> dict[str, Any]:
        """Stop reading (after ``grace`` seconds at most), write the kept tail, close the file.

        Returns ``output_bytes`` (all the script printed) and ``output_truncated``.
        """
        self.thread.join(grace)
        self.stop.set()
        self.thread.join(1.0)
        with self.lock:
            tail = b"".join(self.tail_chunks)[-self.tail:] if self.tail_chunks else b""
            omitted = self.total - self.written - len(tail)
            if omitted > 0:
                self.file.write(f"\n[statdl: {omitted} bytes of output omitted here; kept the "
                                f"first {self.written} and the last {len(tail)} of "
                                f"{self.total} bytes]\n".encode())
            self.file.write(tail)
            self.file.close()
        with contextlib.suppress(OSError):
            self.stream.close()
        return {"output_bytes": self.total, "output_truncated": omitted > 0}


class Tee(io.TextIOBase):
    """Write to the console and to a file (the file gets the text without colour codes)."""

    def __init__(self, console: Any, sink: io.TextIOBase):
        self.console, self.sink = console, sink

    def write(self, text: str) -> int:
        self.console.write(text)
        self.sink.write(_ANSI.sub("", text))
        return len(text)

    def flush(self) -> None:
        self.console.flush()
        self.sink.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.console, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self.console.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.console, "encoding", "utf-8")


def clean_output(text: str) -> str:
    """Drop the redraws of a live progress bar: keep the last line written for each epoch."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.split("\r")[-1].rstrip()
        m = _EPOCH.match(line)
        if m and lines and _EPOCH.match(lines[-1] or "") and \
                _EPOCH.match(lines[-1]).group(1) == m.group(1):
            lines[-1] = line
        else:
            lines.append(line)
    return "\n".join(lines)
