"""glibc malloc tuning: freed training buffers stay in the process while ``fit`` runs, and go
back to the system once no fit, predict or evaluate has run for ``allocator.TRIM_DELAY``
seconds."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="malloc tuning applies to glibc on Linux only")

# Each probe runs in a fresh process (malloc's settings are process-wide) that has trained once
# (torch's first fit loads about 40 MB of its own). ``kept(mb)`` frees a block of ``mb`` MB
# (above glibc's own mmap threshold, at most 32 MiB) and says whether its memory stayed resident
# (RSS did not fall); after a fit it takes 400 MB, more than the probes free inside fits, since
# a block that fits a hole fit left in malloc's heap is served from there like any small block.
# ``grown()`` says whether the process holds 50 MB more than after its first fit, ``trimmed()``
# whether that memory went back within 30 s (the trim comes TRIM_DELAY, 2 s here, after the
# last scope ends: long enough that "still held right after" holds on a loaded machine).
_HEADER = """
import os, threading, time, numpy as np, torch
import statdl as sd
from statdl import layers as L
from statdl.training import allocator
from statdl.training.callbacks import Callback
from statdl.training.allocator import keep_freed_memory
allocator.TRIM_DELAY = 2.0

def rss():
    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

def kept(mb=100):
    block = torch.ones(mb * 250_000)
    held = rss()
    del block
    return held - rss() < mb * 500_000

def tiny_model():
    model = sd.Sequential([L.Dense(1)], input_shape=(2,))
    model.compile("sgd", "mse")
    return model

X, Y = np.zeros((8, 2), np.float32), np.zeros(8, np.float32)
tiny_model().fit(X, Y, epochs=1, verbose=0)

class Probe(Callback):
    def __init__(self, action=None):
        super().__init__()
        self.action, self.seen = action, []
    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(kept())
        if self.action:
            self.action()

start = rss()
def grown():
    return rss() - start > 50_000_000

def trimmed():
    deadline = time.monotonic() + 30
    while grown() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not grown()
"""


def _probe(body: str, **env) -> list[str]:
    code = _HEADER + textwrap.dedent(body)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


@glibc_only
def test_freed_blocks_stay_in_the_process_inside_the_scope_only():
    assert _probe("""
        with keep_freed_memory() as tuned:
            inside = kept()
        print(tuned, inside, kept(400), trimmed())
    """) == ["True", "True", "False", "True"]


@glibc_only
def test_fit_keeps_freed_blocks_while_it_trains_and_returns_them_after():
    # the callback frees 100 MB inside fit (kept, ready for the next step); right after fit
    # that memory is still held (for a next call), then trimmed, and a block the user frees
    # goes back to the system at once
    assert _probe("""
        probe = Probe()
        tiny_model().fit(X, Y, epochs=1, verbose=0, callbacks=[probe])
        print(probe.seen[0], grown(), kept(400), trimmed())
    """) == ["True", "True", "False", "True"]


@glibc_only
def test_no_trim_while_a_scope_is_open_and_one_after_the_last_ends():
    # the first scope's trim falls due while the second is open: the memory the first kept
    # stays for the second, and goes back once the second has ended
    assert _probe("""
        with keep_freed_memory():
            block = torch.ones(100 * 250_000)
            del block
        with keep_freed_memory():
            time.sleep(3 * allocator.TRIM_DELAY)
            inside = grown()
        print(inside, trimmed())
    """) == ["True", "True"]


@glibc_only
def test_a_child_forked_while_the_lock_is_held_can_still_open_scopes():
    # the trimming thread holds the allocator's lock while it trims; a fork at that moment
    # must not leave the child's fits waiting on a lock nobody will release (numpy only in
    # the child: torch's thread pool does not survive a fork)
    assert _probe("""
        held, release = threading.Event(), threading.Event()
        def trimmer_busy():
            with allocator._lock:
                held.set()
                release.wait()
        thread = threading.Thread(target=trimmer_busy)
        thread.start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            def scope():
                with keep_freed_memory():
                    np.ones(1000).sum()
            opener = threading.Thread(target=scope, daemon=True)
            opener.start()
            opener.join(20)
            os._exit(1 if opener.is_alive() else 0)
        release.set()
        thread.join()
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """) == ["0"]


@glibc_only
def test_the_environment_variable_leaves_malloc_alone():
    assert _probe("""
        probe = Probe()
        tiny_model().fit(X, Y, epochs=1, verbose=0, callbacks=[probe])
        with keep_freed_memory() as tuned:
            print(tuned, kept())
        print(probe.seen[0])
    """, STATDL_MALLOC_TUNING="0") == ["False", "False", "False"]


@glibc_only
def test_a_fit_inside_another_fit_leaves_the_setting_to_the_outer_one():
    assert _probe("""
        inner = Probe()
        outer = Probe(lambda: tiny_model().fit(X, Y, epochs=1, verbose=0, callbacks=[inner]))
        tiny_model().fit(X, Y, epochs=2, verbose=0, callbacks=[outer])
        # epoch 2 of the outer fit runs after the inner fit returned: still tuned
        print(inner.seen[0], outer.seen[1], kept(400))
    """) == ["True", "True", "False"]


@glibc_only
def test_overlapping_scopes_in_two_threads_restore_when_the_last_one_ends():
    # the checks run in the main thread (a thread's own malloc arena maps large blocks anyway)
    assert _probe("""
        opened, main_done = threading.Event(), threading.Event()
        def other():
            with keep_freed_memory():
                opened.set()
                main_done.wait()
        thread = threading.Thread(target=other)
        thread.start()
        opened.wait()
        with keep_freed_memory():
            pass
        print(kept())  # the main thread's scope has ended, the other thread's is open
        main_done.set()
        thread.join()
        print(kept(400))
    """) == ["True", "False"]


@glibc_only
def test_an_interrupted_fit_still_returns_the_memory():
    assert _probe("""
        def interrupt():
            raise KeyboardInterrupt
        probe = Probe(interrupt)
        try:
            tiny_model().fit(X, Y, epochs=1, verbose=0, callbacks=[probe])
        except KeyboardInterrupt:
            print(probe.seen[0], trimmed(), kept(400))
    """) == ["True", "True", "False"]


@glibc_only
def test_thresholds_set_in_the_environment_are_what_comes_back():
    # the user asked glibc to keep up to 1 GiB free at the top of the heap and serve blocks
    # up to 200 MB from it: after the scope, a freed 100 MB block stays, as without statdl
    assert _probe("""
        with keep_freed_memory():
            pass
        print(kept())
    """, MALLOC_MMAP_THRESHOLD_="200000000",
        GLIBC_TUNABLES="glibc.malloc.trim_threshold=1073741824") == ["True"]
