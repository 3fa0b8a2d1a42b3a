"""Narration that several demos share: steps told the same way in each of them."""

from __future__ import annotations

from isodemo.i18n import _
from isodemo.isolated import Isolated
from isodemo.kernel import namespaces
from isodemo.narrate.base import Narrator


def show_namespace_identity(narrator: Narrator, box: Isolated, ns: str) -> tuple[int, int]:
    """Record `<ns>ns_inode_host` and `<ns>ns_inode_inside`, seen from both sides; check they differ."""
    host_link = namespaces.ns_link("self", ns)
    inside_link = box.call(namespaces.ns_link, "self", ns)
    narrator.compare(f"readlink /proc/self/ns/{ns}", host_link, inside_link)
    host_inode = narrator.fact(f"{ns}ns_inode_host", namespaces.ns_inode("self", ns))
    inside_inode = narrator.fact(f"{ns}ns_inode_inside", box.call(namespaces.ns_inode, "self", ns))
    seen_from_host = namespaces.ns_inode(box.pid, ns)
    narrator.claim(
        _(
            "the child's {ns} namespace is a new one (inode {inside} != {host})",
            ns=ns,
            inside=inside_inode,
            host=host_inode,
        ),
        inside_inode != host_inode,
    )
    narrator.claim(
        _("the host sees the same {ns} namespace through /proc/{pid}/ns/{ns}", ns=ns, pid=box.pid),
        seen_from_host == inside_inode,
    )
    return host_inode, inside_inode


def write_oom_score_adj(narrator: Narrator, pid: int, adj: int) -> int:
    """Write the kubelet's value; returns what the kernel holds. Lowering it below 0 needs CAP_SYS_RESOURCE,
    which some sandboxes drop even for root: then the process keeps 0, and the narration says so."""
    path = f"/proc/{pid}/oom_score_adj"
    try:
        with open(path, "w") as f:
            f.write(str(adj))
    except PermissionError:
        narrator.shell(f"echo {adj} > {path}   # EACCES")
        read = int(_read_text(path))
        narrator.explain(
            _(
                "This machine refused {adj}: lowering oom_score_adj needs CAP_SYS_RESOURCE, which this isodemo "
                "process lacks (a restricted sandbox or container). The process keeps {read}.",
                adj=adj,
                read=read,
            )
        )
        narrator.fact("oom_score_adj_refused", True)
        return read
    narrator.shell(f"echo {adj} > {path}")
    read = int(_read_text(path))
    narrator.claim(_("{path} reads {read}, as written", path=path, read=read), read == adj)
    return read


def _read_text(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def read_or_reason(path: str) -> str:
    """A control file's text, stripped; when it cannot be read, the reason in parentheses (shown in a table)."""
    try:
        return _read_text(path)
    except OSError as error:
        return f"({error.strerror})"
