"""Shared fixtures: where the real data lives, and a fresh name counter per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STATDL_SHARED", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"

# training scripts used as fixtures run on import: never collect them (doctests included)
collect_ignore_glob = ["fixtures/*"]


def pytest_report_header(config) -> str:
    """Where models compiled with ``device="auto"`` run: ``STATDL_DEVICE=cuda pytest`` puts the
    whole tier on the GPU (``bench/gpu_check.py`` does)."""
    return f"statdl device: {os.environ.get('STATDL_DEVICE') or 'auto (GPU if torch sees one)'}"


@pytest.fixture
def shared_data() -> Path:
    """The real-data folder ``../shared/data``; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (needs ../shared beside the repo)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _fresh_names():
    from statdl._naming import reset_names

    reset_names()
    yield


@pytest.fixture
def isolated_data_env(tmp_path, monkeypatch):
    """Dataset loaders see an empty cache in ``tmp_path``, no data folders, no downloads."""
    from statdl.datasets import _files

    monkeypatch.setenv("STATDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("STATDL_DATA", raising=False)
    monkeypatch.delenv("STATDL_DATA_URL", raising=False)
    monkeypatch.setenv("STATDL_OFFLINE", "1")
    monkeypatch.setattr(_files, "SYSTEM_DIRS", [])
