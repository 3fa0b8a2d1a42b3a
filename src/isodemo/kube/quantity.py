"""Kubernetes resource quantities ("500m", "1", "0.5", "64Mi", "1G", "1e3"), read as resource.Quantity does.

The grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go):

    <quantity>  ::= <sign><number><suffix>        sign: "+", "-" or nothing
    <number>    ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>    ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>  ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI> ::= m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <sign><digits> | "E" <sign><digits>

The value is exact (a fraction here, as an infinite-precision decimal there). The kubelet reads cpu as
MilliValue() and memory as Value(): both round *up* to a whole number (0.1m of CPU is 1m; 0.5 bytes is 1).
Resource requests and limits must not be negative (API validation).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from isodemo.errors import UsageError
from isodemo.i18n import _

BINARY_SI = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL_SI = {
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
MAX_VALUE = 2**63 - 1  # an int64, as the kubelet holds bytes and millicores
_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|m|k|M|G|T|P|E|)"
)


class QuantityError(UsageError):
    """A quantity that is not one, or is negative: the message names the field."""


def parse(value: object, field: str) -> Fraction:
    """The exact value of a quantity; `field` names where it came from, for the error."""
    text = _text(value)
    match = _QUANTITY.fullmatch(text)
    if not match:
        raise QuantityError(
            _("{field}: {value} is not a quantity", field=field, value=text or '""'),
            _("a Kubernetes quantity is a number with an optional suffix: 500m, 0.5, 2, 64Mi, 1G, 1e3"),
        )
    if len(match["number"]) > 64:  # far past int64 (Kubernetes' limit); Python refuses ints of 4300 digits
        raise QuantityError(_("{field}: {value} is out of range", field=field, value=text[:80]))
    number = Fraction(match["number"] + ("0" if match["number"].endswith(".") else ""))
    suffix = match["suffix"]
    if suffix in BINARY_SI:
        number *= BINARY_SI[suffix]
    elif suffix[:1] in ("e", "E") and len(suffix) > 1:
        exponent = int(suffix[1:])
        if abs(exponent) > 64:
            raise QuantityError(_("{field}: {value} is out of range", field=field, value=text))
        number *= Fraction(10) ** exponent
    else:
        number *= DECIMAL_SI[suffix]
    if match["sign"] == "-" and number != 0:
        raise QuantityError(
            _("{field}: {value} is negative", field=field, value=text),
            _("requests and limits must be greater than or equal to 0"),
        )
    return number


def _text(value: object) -> str:
    """YAML gives `cpu: 1` as an int and `cpu: 0.5` as a float; Kubernetes reads them as those numbers."""
    if isinstance(value, bool):  # `cpu: yes` is a YAML boolean, not a quantity
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return value.strip() if isinstance(value, str) else repr(value)


def _rounded_up(value: Fraction, field: str, text: object) -> int:
    whole = math.ceil(value)
    if whole > MAX_VALUE:
        raise QuantityError(_("{field}: {value} is out of range", field=field, value=_text(text)))
    return whole


def millicores(value: object, field: str) -> int:
    """cpu: Quantity.MilliValue(), rounded up ("500m" -> 500, "1" -> 1000, "0.0001" -> 1)."""
    return _rounded_up(parse(value, field) * 1000, field, value)


def bytes_(value: object, field: str) -> int:
    """memory: Quantity.Value(), rounded up ("64Mi" -> 67108864, "1G" -> 1000000000, "1e3" -> 1000)."""
    return _rounded_up(parse(value, field), field, value)


def format_millicores(milli: int) -> str:
    """The canonical form Kubernetes prints: 500m, 1, 1500m."""
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def format_memory(value: int) -> str:
    """64Mi, 1Gi, or plain bytes."""
    for suffix, size in reversed(BINARY_SI.items()):
        if value and value % size == 0:
            return f"{value // size}{suffix}"
    return str(value)
