"""The host side of `isodemo escape`, one module per job: what isodemo makes to be attacked (workspace, disk),
the attempts a container's own command makes and how their outcome is read back (attempts), the containers
that make them (containers), and the host's user-namespace policy the seccomp control depends on (policy).

What runs in a process being attacked from is in inside/: the chroot escape (inside/chroot_escape.py), the
probes run in a container's child (inside/escape_probes.py), and the fork that hands their answer back
(inside/forked.py).

Every target is an object isodemo made: a directory and files under /tmp/isodemo-<run>-escape (or
/var/tmp/..., escape/workspace.py says when), a loop device on a file there, a process of its own. Nothing of
the host is read or written but those."""
