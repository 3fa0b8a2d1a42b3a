"""The QoS class of a Pod and the oom_score_adj of its containers, by the kubelet's rules.

QoS: pkg/apis/core/v1/helper/qos/qos.go ComputePodQOS. oom_score_adj: pkg/kubelet/qos/policy.go
GetContainerOOMScoreAdjust. Only cpu and memory count; init containers count for the class.
"""

from __future__ import annotations

from isodemo.i18n import _

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from isodemo.kube.manifest import Container, Pod

GUARANTEED = "Guaranteed"
BURSTABLE = "Burstable"
BEST_EFFORT = "BestEffort"
SUPPORTED = ("cpu", "memory")

# pkg/kubelet/qos/policy.go
GUARANTEED_OOM_SCORE_ADJ = -997
BEST_EFFORT_OOM_SCORE_ADJ = 1000
KUBELET_OOM_SCORE_ADJ = -999


def pod_qos(pod: Pod) -> tuple[str, str]:
    """(class, the rule that decided it, in words) for the pod's containers and init containers."""
    return compute_qos([*pod.init_containers, *pod.containers])


def compute_qos(containers: Sequence[Container]) -> tuple[str, str]:
    """ComputePodQOS: requests and limits of cpu and memory are summed over the containers; every container
    must have both limits, and the summed requests must equal the summed limits, for Guaranteed."""
    requests: dict[str, int] = {}
    limits: dict[str, int] = {}
    guaranteed = True
    missing_limits = ""
    for container in containers:
        for name in SUPPORTED:
            if container.requests.get(name):
                requests[name] = requests.get(name, 0) + container.requests[name]
            if container.limits.get(name):
                limits[name] = limits.get(name, 0) + container.limits[name]
        if not all(container.limits.get(name) for name in SUPPORTED):
            guaranteed = False
            missing_limits = missing_limits or container.name
    if not requests and not limits:
        return BEST_EFFORT, _("no container has a cpu or memory request or limit")
    if not guaranteed:
        return BURSTABLE, _(
            "container {name} has no cpu and memory limits both; some container has a request or a limit",
            name=missing_limits,
        )
    unequal = [name for name in requests if limits.get(name) != requests[name]]
    if unequal or len(requests) != len(limits):
        return BURSTABLE, _(
            "every container has limits, but the requests of {resources} differ from the limits",
            resources=", ".join(unequal or [n for n in limits if n not in requests]),
        )
    return GUARANTEED, _("every container has cpu and memory limits, and the requests equal the limits")


def oom_score_adj(qos_class: str, memory_request: int, memory_capacity: int) -> int:
    """GetContainerOOMScoreAdjust: -997 Guaranteed, 1000 BestEffort; Burstable
    1000 - 1000 * request / capacity, kept within [3, 999] (3 = 1000 + -997)."""
    if qos_class == GUARANTEED:
        return GUARANTEED_OOM_SCORE_ADJ
    if qos_class == BEST_EFFORT:
        return BEST_EFFORT_OOM_SCORE_ADJ
    adj = 1000 - (1000 * memory_request) // memory_capacity
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    if adj == BEST_EFFORT_OOM_SCORE_ADJ:
        return BEST_EFFORT_OOM_SCORE_ADJ - 1  # a Burstable container never ties with BestEffort
    return adj
