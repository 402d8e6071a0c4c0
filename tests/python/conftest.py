"""Shared pytest fixtures: the repository root and the built binary."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def layerlaw_bin():
    b = pathlib.Path(os.environ.get("LAYERLAW_BIN", "build/layerlaw"))
    if not b.is_absolute():
        b = ROOT / b
    if not b.exists():
        pytest.fail(f"{b}: not built (make first)")
    return b
