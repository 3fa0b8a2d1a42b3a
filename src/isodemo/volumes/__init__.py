"""A Pod's volumes as the kubelet and the container runtime make them: emptyDir (a directory, or a tmpfs), hostPath,
subPath, and the propagation of their mounts (`isodemo volume`)."""
