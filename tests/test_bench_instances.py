"""bench.instances: the A/B tools' instances are the benchmark set's when LIMITS=suite says so."""

from __future__ import annotations

import pytest

from bench.instances import SIZES, ab_limits


def test_ab_limits_default_to_a_tight_gap_and_the_given_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIMITS", raising=False)
    assert ab_limits(10, 50) == (30.0, 1e-4)  # 500 offers
    assert ab_limits(40, 250, 45.0) == (45.0, 1e-3)


def test_ab_limits_are_the_sets_own_with_limits_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMITS", "suite")
    assert [ab_limits(n, per) for n, per, _, _ in SIZES] == [(limit, gap) for _, _, limit, gap in SIZES]
    assert ab_limits(40, 250) == (60.0, 1e-2)
    assert ab_limits(7, 7, 12.0) == (12.0, 1e-4)  # a size the set does not have
