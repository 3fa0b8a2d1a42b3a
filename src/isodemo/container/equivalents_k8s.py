"""The same container in a Pod's words: the securityContext fields that decide each lock-down step.

What the kubelet sends over CRI for each field and what containerd then asks runc for
(shared/design/k8s-reference.md section 7; pkg/securitycontext/util.go): capabilities add/drop change the
runtime's default set (Docker's and containerd's 14 are the same list); allowPrivilegeEscalation: false is
no_new_privs; readOnlyRootFilesystem: true makes runc remount / read-only; seccompProfile RuntimeDefault is the
runtime's filter (Unconfined is the kubelet's default unless seccompDefault is on); procMount Default keeps the
masked and read-only /proc paths (Unmasked empties both lists, only with hostUsers: false); privileged: true
turns all of it off. Pure: the unit tests check it without root.
"""

from __future__ import annotations

from isodemo.container.equivalents import default_capabilities
from isodemo.container.spec import RunSpec
from isodemo.i18n import _


def security_context(spec: RunSpec, kept: tuple[str, ...], seccomp: bool) -> list[str]:
    """The container's securityContext, as YAML lines, that asks a kubelet for what isodemo did."""
    dropped, added = default_capabilities(kept)
    short = [name.removeprefix("CAP_") for name in dropped]
    more = [name.removeprefix("CAP_") for name in added]
    lines = ["securityContext:"]
    if spec.privileged:
        return [*lines, "  privileged: true"]
    lines.append("  privileged: false")
    lines.append(f"  allowPrivilegeEscalation: {str(not spec.no_new_privileges).lower()}")
    lines.append("  readOnlyRootFilesystem: false")
    lines.append(f"  capabilities: {{drop: [{', '.join(short)}], add: [{', '.join(more)}]}}")
    lines.append(f"  seccompProfile: {{type: {'RuntimeDefault' if seccomp else 'Unconfined'}}}")
    lines.append("  procMount: Default")
    return lines


def mapping_rows(
    spec: RunSpec,
    *,
    kept: tuple[str, ...],
    dropped_count: int,
    seccomp_rules: int,
    masked: int,
    readonly: int,
) -> list[list[str]]:
    """[securityContext field, its value here, what isodemo did, at which step] for each field."""
    dropped, added = default_capabilities(kept)
    nnp = spec.no_new_privileges
    return [
        [
            "capabilities.drop / add",
            f"[{_short(dropped)}] / [{_short(added)}]",
            _("{kept} kept (bounding, permitted, effective), {dropped} dropped", kept=len(kept), dropped=dropped_count),
            _("capabilities"),
        ],
        [
            "allowPrivilegeEscalation",
            str(not nnp).lower(),
            _("prctl(PR_SET_NO_NEW_PRIVS): NoNewPrivs 1") if nnp else _("not set: NoNewPrivs 0"),
            "no_new_privs",
        ],
        [
            "readOnlyRootFilesystem",
            "false",
            _("/ is the overlay, writable; true: / remounted read-only"),
            "pivot_root",
        ],
        [
            "seccompProfile",
            "RuntimeDefault" if seccomp_rules else "Unconfined",
            _("{count} rules loaded: Seccomp 2", count=seccomp_rules) if seccomp_rules else _("no filter: Seccomp 0"),
            "seccomp",
        ],
        [
            "procMount",
            "Default",
            _("{masked} masked, {readonly} read-only paths", masked=masked, readonly=readonly),
            _("masked paths"),
        ],
        [
            "privileged",
            str(spec.privileged).lower(),
            _("true: every capability and device, no filter, no masks"),
            _("all of them"),
        ],
    ]


def _short(names: list[str]) -> str:
    return ", ".join(name.removeprefix("CAP_") for name in names)
