"""restricted_userns.py UID GID COMMAND...: run COMMAND as UID:GID inside a new user namespace (ids mapped
one to one) whose user.max_user_namespaces is 0. The sysctl is per user namespace: the host's stays as it is.
Exits with COMMAND's status. Run as root."""

from __future__ import annotations

import os
import sys

from isodemo.kernel import namespaces


def main() -> int:
    uid, gid, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    ready_r, ready_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        os.close(mapped_w)
        namespaces.unshare(namespaces.CLONE_NEWUSER)
        os.write(ready_w, b"1")
        if os.read(mapped_r, 1) != b"1":
            os._exit(125)
        with open("/proc/sys/user/max_user_namespaces", "w") as f:
            f.write("0\n")
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        os.execv(argv[0], argv)
    os.close(ready_w)
    os.close(mapped_r)
    os.read(ready_r, 1)
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{child}/{name}", "w") as f:
            f.write("0 0 4294967295\n")
    os.write(mapped_w, b"1")
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
