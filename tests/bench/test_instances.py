"""bench.instances: a case named alone is the suite's own instance; an unknown name lists the known ones."""

from __future__ import annotations

import pytest

from bench.instances import named, suite


def test_a_case_named_alone_is_the_suites_instance_of_that_seed() -> None:
    quick = {case.name: case for case in suite(quick=True, seed=3)}
    for name in ("dla-2025", "5x20-min_cost", "10x50-max_coverage"):
        case = named(name, seed=3)
        assert case.body == quick[name].body
        assert (case.offers, case.objective) == (quick[name].offers, quick[name].objective)
    assert named("10x50-min_cost", seed=3).body != named("10x50-min_cost", seed=4).body


def test_an_unknown_case_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="200x250-max_coverage"):
        named("10x10-min_cost")
