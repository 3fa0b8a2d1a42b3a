"""uts: a container's hostname is its own.

What you will see: a child in a new UTS namespace starts with a copy of the host's hostname, sets its own
with sethostname(2), and the host's hostname does not change.
Kubernetes: a Pod's hostname is the Pod name, shared by its containers.
"""

from __future__ import annotations

from isodemo.context import DemoContext
from isodemo.demos.common import show_namespace_identity
from isodemo.i18n import _
from isodemo.kernel import process as kprocess
from isodemo.narrate.base import Narrator

DEFAULT_HOSTNAME = "isodemo-box"


def run(narrator: Narrator, ctx: DemoContext) -> None:
    name = str(ctx.options.get("hostname") or DEFAULT_HOSTNAME)
    narrator.step(
        _("A new UTS namespace starts as a copy"),
        syscalls=["unshare(CLONE_NEWUTS)", "clone(SIGCHLD)  (fork)"],
        shell=[ctx.as_root("unshare --uts sh")],
    )
    narrator.explain(
        _(
            'UTS is the "UNIX Time-sharing System" of struct utsname: what uname(2) returns, '
            "among it the hostname and the NIS domain name. A new namespace copies the caller's."
        )
    )
    before = narrator.fact("hostname_host_before", kprocess.gethostname())
    box = ctx.isolated(["uts"])
    copied = box.call(kprocess.gethostname)
    narrator.compare(_("hostname"), before, copied)
    narrator.claim(_("the new namespace starts with the host's hostname"), copied == before)
    show_namespace_identity(narrator, box, "uts")

    narrator.step(
        _('sethostname("{name}") inside', name=name),
        syscalls=[f'sethostname("{name}", {len(name)})'],
        shell=[f"hostname {name}", "hostname"],
    )
    box.call(kprocess.sethostname, name)
    inside = box.call(kprocess.gethostname)
    after = kprocess.gethostname()
    narrator.compare(_("hostname"), after, inside)
    narrator.check(
        "hostname_inside", inside, _("inside, the hostname is now {name}", name=name), inside == name, show=True
    )
    narrator.check(
        "hostname_host_after",
        after,
        _("the host's hostname is still {name}", name=before),
        after == before,
        show=True,
    )

    ctx.hold_here(narrator, {"uts": box.pid}, [ctx.as_root(f"nsenter -t {box.pid} --uts hostname")])
    narrator.kubernetes(
        _(
            "Each Pod has its own UTS namespace, shared by all of its containers: `hostname` in any container "
            "prints the Pod's name (or spec.hostname; a StatefulSet's Pods are web-0, web-1, ...). A Pod with "
            "`hostNetwork: true` shares the node's network and UTS namespaces, so it sees the node's hostname."
        )
    )
