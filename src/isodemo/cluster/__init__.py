"""A one-node cluster for the control-loop demos (`service`, `healing`, `rollout`, `autoscale`).

node.py     the node: a network namespace of its own with the pod bridge cni0, an uplink and kube-proxy's
            nftables table, and a process in it that does what the kubelet, the CNI plugin and kube-proxy do
pods.py     a pod of a ReplicaSet: a pinned network namespace on cni0 and one busybox container serving HTTP
proxy.py    kube-proxy: a Service's ClusterIP and NodePort as nftables rules, synced from its endpoints
client.py   a client pod that sends HTTP requests through the Service and records what each one got

Why a node namespace: kube-proxy writes its rules in the host's ruleset and the CNI plugin its bridge in the
host's namespace; isodemo makes a namespace that plays the node, so that the demo's addresses are Kubernetes'
own defaults (pods 10.244.0.0/24, services 10.96.0.0/12), nothing of this machine's network changes, and one
`ip netns delete` would remove it all.
"""
