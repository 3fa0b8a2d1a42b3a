"""Kubernetes, the kubelet's and the runtime's rules for turning a Pod into kernel objects: pure logic.

Nothing here touches the kernel. quantity (resource quantities), qos (QoS class, oom_score_adj), cgroup_values
(the cgroup files and values), layout (the cgroupfs driver's names) and manifest (reading a Pod) follow the
upstream code named in each module, as shared/design/k8s-reference.md section 2 describes it.
"""
