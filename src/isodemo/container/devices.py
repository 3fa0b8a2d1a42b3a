"""The devices a container may use, as runc allows them: the device cgroup's allow list.

Root in a container keeps CAP_MKNOD (one of Docker's 14 capabilities), so without this list it could
`mknod /tmp/disk b 8 0` and read the host's disk, and an image could ship such a node. The device cgroup
stops that: every device is refused (EPERM) but those below, whatever nodes exist in the container.
Cgroup.allow_devices applies the list: devices.deny/devices.allow on v1, a BPF_PROG_TYPE_CGROUP_DEVICE
program on v2. `--privileged` gets no list: every device is allowed, as Docker does it.

The rules, in the syntax of v1's devices.allow:
- runc's AllowedDevices (libcontainer/specconv/spec_linux.go), which runc appends to every container's
  rules: mknod of any character or block device (opening one is another matter), then read, write and mknod
  of null, zero, full, random, urandom, tty, ptmx, the ptys of /dev/pts (major 136; the container's
  terminal for -t is one of its own devpts, c 136:N), and /dev/net/tun (10:200; dropped in runc 1.2.0-rc1, back
  since: opencontainers/runc pull 3468).
- the console, c 5:1, from moby's DefaultLinuxSpec (daemon/pkg/oci/defaults.go), which Docker adds to
  runc's. moby also denies c 10:229 (fuse) explicitly; here every device not listed is denied anyway.
"""

from __future__ import annotations

ALLOWED = (
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",  # /dev/null
    "c 1:5 rwm",  # /dev/zero
    "c 1:7 rwm",  # /dev/full
    "c 1:8 rwm",  # /dev/random
    "c 1:9 rwm",  # /dev/urandom
    "c 5:0 rwm",  # /dev/tty
    "c 5:1 rwm",  # /dev/console (moby)
    "c 5:2 rwm",  # /dev/ptmx
    "c 136:* rwm",  # /dev/pts/N
    "c 10:200 rwm",  # /dev/net/tun
)
