"""Kubernetes, the kubelet's, the runtime's and the controllers' rules: pure logic.

Nothing here touches the kernel. quantity (resource quantities), qos (QoS class, oom_score_adj), cgroup_values
(the cgroup files and values), layout (the cgroupfs driver's names) and manifest (reading a Pod) follow the
upstream code named in each module, as shared/design/k8s-reference.md section 2 describes it; restarts
(restartPolicy, CrashLoopBackOff, probes), proxy_rules (kube-proxy's nftables rules), deployment (maxSurge,
maxUnavailable, the rolling update's steps), hpa (the HorizontalPodAutoscaler's formula and behavior),
hpa_check (its decisions checked again) and stats (the chi-square test) follow sections 3, 4 and 6; options
checks the command-line values.
"""
