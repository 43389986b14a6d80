"""The benchmark harness calls a side faster only when most rounds say so, not a median's luck."""

from __future__ import annotations

import pytest
from benchmarks.harness import Comparison, faster


def test_a_tie_whose_median_is_under_one_is_not_faster() -> None:
    # The sync listing's rounds against the official client in one fresh-clone run: the
    # median is 0.99x, the rounds scatter on both sides of 1.
    tie = [0.99, 1.10, 0.84, 1.03, 1.29, 0.90, 0.83]
    met, middle = faster(tie)
    assert not met
    assert middle == "middle half of rounds 0.87-1.06"


def test_faster_in_three_rounds_of_four_is_faster() -> None:
    assert faster([0.70, 0.72, 0.68, 1.20])[0]
    assert not faster([0.70, 1.05, 0.68, 1.20])[0]


@pytest.mark.parametrize(("ratios", "met"), [([0.9], True), ([1.1], False), ([], False)])
def test_one_round_or_none(ratios: list[float], met: bool) -> None:
    assert faster(ratios) == (met, "one round")


def test_ratios_pair_rounds_measured_back_to_back() -> None:
    timings = Comparison({"ours": [1.0, 3.0, 2.0], "official": [2.0, 2.0, 4.0]})
    assert timings.ratios("ours", "official") == [0.5, 1.5, 0.5]
    assert timings.ratio("ours", "official") == 0.5
