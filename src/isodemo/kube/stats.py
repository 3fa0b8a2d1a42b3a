"""Pearson's chi-square test, to check that kube-proxy's random choice spreads connections evenly.

kube-proxy picks an endpoint uniformly at random: nftables `numgen random mod N vmap {...}` or iptables
`-m statistic --mode random --probability 1/(n-i)` chains (pkg/proxy/nftables/proxier.go
writeServiceToEndpointRules, pkg/proxy/iptables/proxier.go; shared/design/k8s-reference.md section 4). With M
connections over N ready endpoints each should get about M/N; chi_square_p says how likely counts at least this
uneven would be if the choice really were uniform.

The p-value is the upper tail of the chi-square distribution, Q(dof/2, x/2), the regularized upper incomplete
gamma function: a power series for x < a + 1, a continued fraction (Lentz's method) beyond. Standard library only.
"""

from __future__ import annotations

import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

_EPSILON = 1e-15
_TINY = 1e-300
_MAX_TERMS = 10_000


def chi_square(observed: Sequence[int], expected: Sequence[float]) -> float:
    """sum((observed - expected)^2 / expected)."""
    if len(observed) != len(expected) or not observed:
        raise ValueError("observed and expected need the same, non-zero length")
    if any(e <= 0 for e in expected):
        raise ValueError("every expected count must be positive")
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


def chi_square_p(statistic: float, dof: int) -> float:
    """P(X >= statistic) for X chi-square with `dof` degrees of freedom."""
    if dof < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if statistic <= 0:
        return 1.0
    return upper_gamma_q(dof / 2, statistic / 2)


def upper_gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a), for a > 0 and x >= 0."""
    if a <= 0 or x < 0:
        raise ValueError("Q(a, x) needs a > 0 and x >= 0")
    if x == 0:
        return 1.0
    if x < a + 1:
        return max(0.0, 1.0 - _lower_series(a, x))
    return _upper_fraction(a, x)


def _prefactor(a: float, x: float) -> float:
    """x^a e^-x / Γ(a), in logarithms so that large a and x do not overflow."""
    return math.exp(a * math.log(x) - x - math.lgamma(a))


def _lower_series(a: float, x: float) -> float:
    """P(a, x) = x^a e^-x / Γ(a) * Σ x^n / (a (a+1) ... (a+n)), n = 0, 1, ..."""
    term = 1.0 / a
    total = term
    denominator = a
    for _n in range(_MAX_TERMS):
        denominator += 1
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPSILON:
            break
    return total * _prefactor(a, x)


def _upper_fraction(a: float, x: float) -> float:
    """Q(a, x) = x^a e^-x / Γ(a) * 1 / (x+1-a - 1(1-a) / (x+3-a - 2(2-a) / (x+5-a - ...))), modified Lentz."""
    b = x + 1 - a
    c = 1 / _TINY
    d = 1 / b
    fraction = d
    for i in range(1, _MAX_TERMS):
        numerator = -i * (i - a)
        b += 2
        d = numerator * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + numerator / c
        c = _TINY if abs(c) < _TINY else c
        d = 1 / d
        delta = d * c
        fraction *= delta
        if abs(delta - 1) < _EPSILON:
            break
    return fraction * _prefactor(a, x)


def uniform_p(counts: Sequence[int]) -> float:
    """The p-value of `counts` (connections per endpoint) against an even spread, dof = len(counts) - 1."""
    if len(counts) < 2:
        raise ValueError("an even spread needs at least two endpoints")
    total = sum(counts)
    if total <= 0:
        raise ValueError("no connections counted")
    expected = [total / len(counts)] * len(counts)
    return chi_square_p(chi_square(counts, expected), len(counts) - 1)
