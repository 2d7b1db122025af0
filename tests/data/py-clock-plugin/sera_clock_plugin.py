"""A pytest plugin: the `frozen_clock` fixture, a clock that reads what the test sets."""

import pytest


class FrozenClock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def frozen_clock():
    return FrozenClock(1_000)
