"""A Pod on one node, made the way kubelet, containerd and runc make one (`isodemo pod`).

sandbox.py     the network namespace made first and pinned, the CNI bridge plugin's veth (network.py),
               the sandbox's /dev/shm (shm.py), then the pause process in its own ipc, uts, pid, mnt
pause.py       isodemo's pause: what kubernetes' build/pause/linux/pause.c does, in Python
containers.py  a container of the pod: `isodemo run`'s runtime, joining the sandbox's namespaces
enter.py       `kubectl exec`: a command run in every namespace of a running container
"""
