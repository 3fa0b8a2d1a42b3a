"""What a demo observed, independent of how it is shown: steps, facts, claims, and the JSON object.

The JSON object is INTERFACE.md's contract (schema 1); extra keys are allowed, renamed keys are not.

Plain classes, not dataclasses: `isodemo run` reports through these, and its start-up path cannot afford
`dataclasses` (~5 ms with the `inspect` it imports).
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = 1


class Claim:
    def __init__(self, text: str, holds: bool) -> None:
        self.text = text
        self.holds = holds

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Claim) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.text, self.holds) == (other.text, other.holds)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it was: not hashable

    def __repr__(self) -> str:
        return f"Claim(text={self.text!r}, holds={self.holds!r})"


class Step:
    def __init__(
        self,
        title: str,
        syscalls: list[str] | None = None,
        shell: list[str] | None = None,
        facts: dict[str, Any] | None = None,
        claims: list[Claim] | None = None,
    ) -> None:
        self.title = title
        self.syscalls: list[str] = [] if syscalls is None else syscalls
        self.shell: list[str] = [] if shell is None else shell
        self.facts: dict[str, Any] = {} if facts is None else facts
        self.claims: list[Claim] = [] if claims is None else claims

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Step) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.title, self.syscalls, self.shell, self.facts, self.claims) == (
            other.title,
            other.syscalls,
            other.shell,
            other.facts,
            other.claims,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Step(title={self.title!r}, syscalls={self.syscalls!r}, shell={self.shell!r}, facts={self.facts!r}, "
            f"claims={self.claims!r})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "syscalls": self.syscalls,
            "shell": self.shell,
            "facts": self.facts,
            "claims": [{"text": c.text, "holds": c.holds} for c in self.claims],
        }


class ErrorInfo:
    def __init__(self, kind: str, message: str, hint: str | None, exit_code: int) -> None:
        self.kind = kind
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ErrorInfo) or other.__class__ is not self.__class__:
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ErrorInfo(kind={self.kind!r}, message={self.message!r}, hint={self.hint!r}, exit_code={self.exit_code!r})"
        )

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "hint": self.hint, "exit_code": self.exit_code}


class Report:
    def __init__(
        self,
        demo: str | None = None,
        *,
        host: dict[str, Any] | None = None,
        steps: list[Step] | None = None,
        facts: dict[str, Any] | None = None,
        error: ErrorInfo | None = None,
        leftovers: list[str] | None = None,
    ) -> None:
        self.demo = demo
        self.host: dict[str, Any] = {} if host is None else host
        self.steps: list[Step] = [] if steps is None else steps
        self.facts: dict[str, Any] = {} if facts is None else facts
        self.error = error
        self.leftovers: list[str] = [] if leftovers is None else leftovers

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Report) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.demo, self.host, self.steps, self.facts, self.error, self.leftovers) == (
            other.demo,
            other.host,
            other.steps,
            other.facts,
            other.error,
            other.leftovers,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Report(demo={self.demo!r}, host={self.host!r}, steps={self.steps!r}, facts={self.facts!r}, "
            f"error={self.error!r}, leftovers={self.leftovers!r})"
        )

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
