"""The attacks of `isodemo escape`, one module per kind: what isodemo makes to be attacked (workspace, disk),
the chroot escape (chroot), the probes run in a container's child (probes), the attempts a container's own
command makes and how their outcome is read back (attempts), and the containers that make them (containers).

Every target is an object isodemo made: a directory and files under /tmp/isodemo-<run>-escape, a loop device
on a file there, a process of its own. Nothing of the host is read or written but those."""
