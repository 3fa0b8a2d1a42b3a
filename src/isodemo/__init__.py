"""isodemo: see what a container really is, one kernel object at a time."""

from __future__ import annotations

__version__ = "0.1.0"
