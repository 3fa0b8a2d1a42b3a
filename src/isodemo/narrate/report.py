"""What a demo observed, independent of how it is shown: steps, facts, claims, and the JSON object.

The JSON object is INTERFACE.md's contract (schema 1); extra keys are allowed, renamed keys are not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


@dataclass
class Claim:
    text: str
    holds: bool


@dataclass
class Step:
    title: str
    syscalls: list[str] = field(default_factory=list)
    shell: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "syscalls": self.syscalls,
            "shell": self.shell,
            "facts": self.facts,
            "claims": [{"text": c.text, "holds": c.holds} for c in self.claims],
        }


@dataclass
class ErrorInfo:
    kind: str
    message: str
    hint: str | None
    exit_code: int

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "hint": self.hint, "exit_code": self.exit_code}


@dataclass
class Report:
    demo: str | None = None
    host: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    error: ErrorInfo | None = None
    leftovers: list[str] = field(default_factory=list)

    @property
    def failed_claims(self) -> list[Claim]:
        return [claim for step in self.steps for claim in step.claims if not claim.holds]

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed_claims and not self.leftovers

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "demo": self.demo,
            "ok": self.ok,
            "error": self.error.to_json() if self.error else None,
            "host": self.host,
            "steps": [step.to_json() for step in self.steps],
            "facts": self.facts,
            "leftovers": self.leftovers,
        }
