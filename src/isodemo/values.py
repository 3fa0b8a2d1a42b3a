"""Parsing and checking option values, with messages that show the accepted form. Pure functions."""

from __future__ import annotations

import re

from isodemo.errors import UsageError

HOST_NAME_MAX = 64  # <limits.h>; sethostname(2) fails with EINVAL beyond it
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def hostname(value: str) -> str:
    """A hostname the kernel accepts and a Kubernetes Pod could have: RFC 1123 labels, at most 64 bytes."""
    if not value or len(value.encode()) > HOST_NAME_MAX or not all(_LABEL.match(p) for p in value.split(".")):
        raise UsageError(
            f"invalid hostname {value!r}",
            f"use 1-{HOST_NAME_MAX} characters: letters, digits and '-', dot-separated labels "
            "that start and end with a letter or digit (for example web-0)",
        )
    return value
