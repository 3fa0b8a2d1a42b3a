"""isodemo.kube.stats: the chi-square statistic and its upper-tail p-value against table values."""

from __future__ import annotations

import math

import pytest

from isodemo.kube import stats


@pytest.mark.parametrize("x", [0.01, 0.5, 1.0, 2.0, 4.0, 10.0, 50.0, 200.0])
def test_two_degrees_of_freedom_is_an_exponential(x: float) -> None:
    assert stats.chi_square_p(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-12)


@pytest.mark.parametrize(
    ("x", "dof", "p"),
    [
        (3.841458820694124, 1, 0.05),  # the 95 % points of a chi-square table
        (18.307038053275146, 10, 0.05),
        (6.6348966010212145, 1, 0.01),
        (23.209251158954356, 10, 0.01),
        (7.814727903251178, 3, 0.05),
        (124.34211340400407, 100, 0.05),
        (0.454936423119572, 1, 0.5),  # the median
        (1.0, 1, math.erfc(math.sqrt(0.5))),  # dof 1: P(|Z| >= sqrt(x))
        (9.0, 1, math.erfc(3 / math.sqrt(2))),
    ],
)
def test_table_values(x: float, dof: int, p: float) -> None:
    assert stats.chi_square_p(x, dof) == pytest.approx(p, rel=1e-7)


def test_rounded_table_values_from_the_brief() -> None:
    assert stats.chi_square_p(3.841, 1) == pytest.approx(0.05, abs=1e-4)
    assert stats.chi_square_p(18.307, 10) == pytest.approx(0.05, abs=1e-4)


def test_edges() -> None:
    assert stats.chi_square_p(0.0, 1) == 1.0
    assert stats.chi_square_p(0.0, 7) == 1.0
    assert 0.0 <= stats.chi_square_p(1e4, 3) < 1e-300
    with pytest.raises(ValueError):
        stats.chi_square_p(1.0, 0)


def test_series_and_fraction_agree_where_they_meet() -> None:
    for a in (0.5, 1.5, 5.0, 50.0):
        below = stats.upper_gamma_q(a, a + 1 - 1e-9)
        above = stats.upper_gamma_q(a, a + 1 + 1e-9)
        assert below == pytest.approx(above, rel=1e-7)


def test_chi_square_statistic() -> None:
    assert stats.chi_square([10, 10, 10], [10.0, 10.0, 10.0]) == 0.0
    assert stats.chi_square([15, 5], [10.0, 10.0]) == 5.0
    with pytest.raises(ValueError):
        stats.chi_square([1, 2], [1.0])
    with pytest.raises(ValueError):
        stats.chi_square([1], [0.0])


def test_uniform_p() -> None:
    assert stats.uniform_p([100, 100, 100]) == 1.0
    assert stats.uniform_p([15, 5]) == pytest.approx(math.erfc(math.sqrt(2.5)))  # x = 5, dof 1
    assert stats.uniform_p([330, 340, 330]) > 0.8
    assert stats.uniform_p([1000, 0, 0]) < 1e-100  # every connection to one endpoint
    with pytest.raises(ValueError):
        stats.uniform_p([5])
    with pytest.raises(ValueError):
        stats.uniform_p([0, 0])
