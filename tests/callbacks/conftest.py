"""Fixtures shared by the callback tests."""

import pytest

from hookfit.utils import progbar as progbar_module


class Clock:
    """A settable ``time.time`` for the progress bar (starts at 1000 s)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progbar_module.time, "time", c)
    return c
