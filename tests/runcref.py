"""A reference container made by runc with the settings Docker would give `docker run busybox`.

The tests compare isodemo's container with this one (tests/root/test_run_vs_runc.py) and the benchmark
times it (benchmarks/runtime.py). Nothing here comes from isodemo's own code: the values are Docker's, with
their sources, so that a mistake in isodemo cannot be copied into its reference.

- Capabilities: Docker's 14 (moby daemon/pkg/oci/caps/defaults.go) in the bounding, permitted and effective
  sets. The inheritable set is EMPTY: moby's DefaultLinuxSpec sets only Bounding/Permitted/Effective since
  Docker Engine 20.10.14, the fix of CVE-2022-24769 ("containers were incorrectly started with non-empty
  inheritable Linux process capabilities"; https://security-tracker.debian.org/tracker/CVE-2022-24769,
  advisory GHSA-2mm7-x5h6-5pvq). Ambient: empty. `--privileged`: every capability this kernel knows that
  this process still holds in its bounding set (all_caps()).
- The process: uid 0, gid 0, and gid 0 among the supplementary groups too (moby since 20.10.18,
  CVE-2022-36109); env PATH (moby's default) and HOSTNAME, cwd /, no terminal, no_new_privs off.
- Mounts: moby's DefaultLinuxSpec (daemon/pkg/oci/defaults.go; containerd's pkg/oci/mounts.go has the same
  list plus /run), then the /etc/hostname, /etc/hosts and /etc/resolv.conf binds Docker adds ("rbind",
  "rprivate"; resolv.conf is the host's without loopback nameservers, as Docker writes it outside the
  host's network). `--privileged` clears "ro" on /sys and on the cgroup mount. The rootfs is an overlay:
  the busybox tree as its one lower layer, an upper dir per run.
- Masked and read-only paths: moby's lists (shared/design/k8s-reference.md, section 7), with the per-CPU
  thermal_throttle directories where they exist. `--privileged`: none.
- Namespaces: pid, mount, uts, ipc, network, cgroup; no user namespace.
- Devices: runc's defaults (null, zero, full, random, urandom, tty, the ptmx link), the device cgroup rules
  of moby's DefaultLinuxSpec (deny all, then the default nodes; runc appends its own allowed list).
  `--privileged`: every device node of the host's /dev, like moby's WithDevices, and "allow all".
- Seccomp: a small deny list (DENIED, CLONE_NS_FLAGS, clone3 -> ENOSYS), default allow: the calls the issue
  names, refused with EPERM as Docker's profile refuses them. `--privileged`: unconfined.
- cgroup: cgroupsPath "isodemo-ref-<random>", RELATIVE: runc makes it a child of this process's own cgroup
  in each v1 hierarchy. On cgroup v2 runc 1.1 puts a relative path under the PARENT of its own cgroup, and
  enables every controller in each ancestor's cgroup.subtree_control, the root's included; so there runc runs
  in a private mount namespace where isodemo's subtree (/sys/fs/cgroup/isodemo) is bound over /sys/fs/cgroup:
  everything runc creates or enables is inside that subtree (see `_v2_wrapper`).

Use: `with Reference(args, ...) as ref: result = ref.run()`; everything made (temp dirs, the overlay mount,
runc's state and cgroup) is removed on exit, and removal is checked.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from isodemo.kernel import capabilities

CGROUP_ROOT = "/sys/fs/cgroup"
V2_SUBTREE = os.path.join(CGROUP_ROOT, "isodemo")  # isodemo's own subtree on cgroup v2 (cgroups/v2.py TOP)
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # moby's defaultUnixPathEnv
HOSTNAME = "isodemo-ref"

# <linux/capability.h>, bit -> name: the kernel's numbering, the same for both runtimes (runc 1.1.5 knows
# every one up to CAP_CHECKPOINT_RESTORE = 40). What Docker sets below is written here on purpose rather than
# imported from isodemo: a reference must not inherit a mistake of the code it checks.
CAP_NAMES = capabilities.NAMES

# moby daemon/pkg/oci/caps/defaults.go (= containerd's defaultUnixCaps), in moby's order.
DOCKER_CAPS = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# moby daemon/pkg/oci/defaults.go, defaultLinuxMaskedPaths (+ thermal_throttle per CPU, added in masked_paths()).
MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# The syscalls the issue names, refused with EPERM (Docker's profile refuses each of them to a container
# without CAP_SYS_ADMIN and friends). clone is refused only with a namespace flag; clone3 gets ENOSYS, as in
# moby/profiles v0.2.3, so that a libc falls back to clone, whose flags a filter can see.
DENIED = (
    "mount",
    "umount2",
    "unshare",
    "setns",
    "pivot_root",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "kexec_load",
    "open_by_handle_at",
    "init_module",
    "reboot",
    "swapon",
)
# <linux/sched.h>. CLONE_NEWTIME (0x80) is not here: clone(2) reads those bits as the exit signal; only
# clone3 and unshare take it, and both are refused whole. Docker's clone rule masks the same seven flags.
CLONE_NS_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
EPERM, ENOSYS = 1, 38

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def runc_path() -> str | None:
    return shutil.which("runc") or shutil.which("runc", path="/usr/sbin:/sbin:/usr/bin:/bin")


def runc_version() -> str:
    runc = runc_path()
    if runc is None:
        return "absent"
    out = subprocess.run([runc, "--version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "unknown"


def busybox_path() -> str | None:
    return shutil.which("busybox") or next((p for p in ("/bin/busybox", "/usr/bin/busybox") if os.path.exists(p)), None)


def cgroup_v2() -> bool:
    """True where /sys/fs/cgroup itself is cgroup2 (a pure v2 machine), False on v1 and hybrid."""
    return os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))


def last_cap() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def own_bounding_set() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))


def all_caps() -> list[str]:
    """--privileged: every capability the kernel knows (moby's GetAllCapabilities) that this process can still
    pass on. A machine may run everything under a smaller bounding set (this CI machine lacks
    CAP_SYS_RESOURCE), and no runtime can hand out a capability outside its own bounding set: runc fails with
    "unable to apply caps" if asked to."""
    bounding = own_bounding_set()
    return [name for bit, name in enumerate(CAP_NAMES[: last_cap() + 1]) if bounding >> bit & 1]


def masked_paths() -> list[str]:
    """moby's list, plus /sys/devices/system/cpu/cpuN/thermal_throttle for each possible CPU that has one."""
    paths = list(MASKED_PATHS)
    for cpu in sorted(os.listdir("/sys/devices/system/cpu")):
        if cpu.startswith("cpu") and cpu[3:].isdigit():
            throttle = f"/sys/devices/system/cpu/{cpu}/thermal_throttle"
            if os.path.exists(throttle):
                paths.append(throttle)
    return paths


def build_busybox_tree(root: str, busybox: str | None = None) -> int:
    """ROOT/bin/busybox (a copy of the static busybox) + one symlink per applet, etc/passwd, etc/group, and
    the empty directories a runtime mounts on. Returns the number of applets."""
    busybox = busybox or busybox_path()
    if busybox is None:
        raise FileNotFoundError("busybox is not installed (apt install busybox-static)")
    for directory in ("bin", "dev", "etc", "proc", "root", "sys", "tmp"):
        os.makedirs(os.path.join(root, directory), exist_ok=True)
    shutil.copy2(busybox, os.path.join(root, "bin", "busybox"))
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = os.path.join(root, "bin", applet)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write(PASSWD)
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write(GROUP)
    return len(applets)


def seccomp_profile() -> dict[str, Any]:
    """The OCI seccomp section: default allow, DENIED -> EPERM, clone with a namespace flag -> EPERM (one
    SCMP_CMP_MASKED_EQ rule per flag: a rule's conditions are ANDed, so one rule per flag ORs them),
    clone3 -> ENOSYS."""
    rules: list[dict[str, Any]] = [{"names": list(DENIED), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM}]
    for flag in CLONE_NS_FLAGS.values():
        rules.append(
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": EPERM,
                "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
            }
        )
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    }


def host_devices() -> list[dict[str, Any]]:
    """Every device node under the host's /dev, as moby's WithDevices adds them for --privileged (containerd's
    HostDevices: no symlinks, and not pts/, shm/, fd/, mqueue/ or /dev/console)."""
    import stat

    found: list[dict[str, Any]] = []
    skip_dirs = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}
    for directory, subdirs, files in os.walk("/dev"):
        subdirs[:] = sorted(d for d in subdirs if not (directory == "/dev" and d in skip_dirs))
        for name in sorted(files):
            path = os.path.join(directory, name)
            if path == "/dev/console":
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode):
                kind = "c"
            elif stat.S_ISBLK(st.st_mode):
                kind = "b"
            else:
                continue
            found.append(
                {
                    "path": path,
                    "type": kind,
                    "major": os.major(st.st_rdev),
                    "minor": os.minor(st.st_rdev),
                    "fileMode": stat.S_IMODE(st.st_mode),
                    "uid": st.st_uid,
                    "gid": st.st_gid,
                }
            )
    return found


def device_rules(privileged: bool) -> list[dict[str, Any]]:
    """moby DefaultLinuxSpec's device cgroup rules; --privileged: allow everything."""
    if privileged:
        return [{"allow": True, "access": "rwm"}]
    allowed = [(1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)]
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    rules += [{"allow": True, "type": "c", "major": a, "minor": b, "access": "rwm"} for a, b in allowed]
    rules.append({"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"})
    return rules


def mounts(etc_dir: str, privileged: bool) -> list[dict[str, Any]]:
    """moby's DefaultLinuxSpec mounts (/dev/shm with the 64 MiB size of a private IPC namespace), then the
    network files Docker binds; --privileged clears "ro" on /sys and on the cgroup mount."""
    ro = [] if privileged else ["ro"]
    listed: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", *ro]},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": [*ro, "nosuid", "noexec", "nodev"],
        },
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"],
        },
    ]
    for name in ("hostname", "hosts", "resolv.conf"):
        listed.append(
            {
                "destination": f"/etc/{name}",
                "type": "bind",
                "source": os.path.join(etc_dir, name),
                "options": ["rbind", "rprivate"],
            }
        )
    return listed


def config(
    rootfs: str,
    etc_dir: str,
    args: Sequence[str],
    cgroup: str,
    *,
    privileged: bool = False,
    hostname: str = HOSTNAME,
) -> dict[str, Any]:
    """The config.json of the bundle: what Docker would hand runc for `docker run [--privileged] busybox ARGS`."""
    caps = all_caps() if privileged else list(DOCKER_CAPS)
    linux: dict[str, Any] = {
        "namespaces": [{"type": t} for t in ("pid", "mount", "uts", "ipc", "network", "cgroup")],
        "cgroupsPath": cgroup,
        "resources": {"devices": device_rules(privileged)},
        "devices": host_devices() if privileged else [],
        "maskedPaths": [] if privileged else masked_paths(),
        "readonlyPaths": [] if privileged else list(READONLY_PATHS),
    }
    if not privileged:
        linux["seccomp"] = seccomp_profile()
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            # The primary gid is in the supplementary list too: moby since 20.10.18 (CVE-2022-36109,
            # GHSA-rc4r-wh2q-q6c4: without it a negative group permission could be dropped).
            "user": {"uid": 0, "gid": 0, "additionalGids": [0]},
            "args": list(args),
            "env": [PATH_ENV, f"HOSTNAME={hostname}"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "permitted": caps,
                "effective": caps,
                "inheritable": [],
                "ambient": [],
            },
            "noNewPrivileges": False,
        },
        "root": {"path": rootfs, "readonly": False},
        "hostname": hostname,
        "mounts": mounts(etc_dir, privileged),
        "linux": linux,
    }


DOCKER_FALLBACK_DNS = ("8.8.8.8", "8.8.4.4")  # libnetwork resolvconf's defaultIPv4Dns


def docker_resolv_conf(host_text: str) -> str:
    """What Docker writes for a container outside the host's network, --network none included (moby/libnetwork
    issue 1063): the host's resolv.conf without nameservers on loopback, which the container's own network
    namespace cannot reach; where none is left, Google's public resolvers."""
    kept = []
    for line in host_text.splitlines():
        words = line.split()
        if words[:1] == ["nameserver"] and len(words) > 1 and (words[1].startswith("127.") or words[1] == "::1"):
            continue
        kept.append(line)
    if not any(line.split()[:1] == ["nameserver"] for line in kept):
        kept += [f"nameserver {server}" for server in DOCKER_FALLBACK_DNS]
    return "\n".join(kept) + "\n"


def write_network_files(etc_dir: str, hostname: str) -> None:
    """The three files Docker writes per container and binds into /etc."""
    os.makedirs(etc_dir, exist_ok=True)
    with open(os.path.join(etc_dir, "hostname"), "w") as f:
        f.write(hostname + "\n")
    with open(os.path.join(etc_dir, "hosts"), "w") as f:
        f.write(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
            "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
        )
    try:
        with open("/etc/resolv.conf") as f:
            host_text = f.read()
    except OSError:
        host_text = ""
    with open(os.path.join(etc_dir, "resolv.conf"), "w") as f:
        f.write(docker_resolv_conf(host_text))


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _mount_overlay_syscall(lower: str, upper: str, work: str, merged: str) -> None:
    """mount(2) itself, as containerd's snapshotter mounts a rootfs (no mount(8) process)."""
    options = f"lowerdir={lower},upperdir={upper},workdir={work}".encode()
    if _libc().mount(b"overlay", merged.encode(), b"overlay", 0, options) != 0:
        import ctypes

        raise OSError(ctypes.get_errno(), "mount overlay")


def _umount_syscall(path: str) -> None:
    if _libc().umount2(path.encode(), 0) != 0:
        import ctypes

        raise OSError(ctypes.get_errno(), "umount2")


def _mount_overlay(lower: str, upper: str, work: str, merged: str) -> None:
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", merged],
        check=True,
        capture_output=True,
    )


def _is_mount(path: str) -> bool:
    return os.path.ismount(path)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float


class Reference:
    """A runc bundle for ARGS in a fresh temp dir under /tmp, run with `runc run`, then taken apart.

    `overlay=True` stacks the rootfs as Docker does: the busybox tree as the read-only lower layer (built once
    per Reference, or given as `lower`), an upper and work dir per run, the overlay mounted on the host.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        privileged: bool = False,
        hostname: str = HOSTNAME,
        overlay: bool = True,
        lower: str | None = None,
    ) -> None:
        self.args = list(args)
        self.privileged = privileged
        self.hostname = hostname
        self.overlay = overlay
        self.given_lower = lower
        self.tmp = ""
        self.rw = ""  # where each run's upper and work dirs go: self.tmp, or a tmpfs in it (_upper_fs)
        self.runc = runc_path() or "runc"
        self._made_v2_subtree = False

    # -- setting up -----------------------------------------------------------------------------------------

    def __enter__(self) -> Reference:
        self.tmp = tempfile.mkdtemp(prefix="runcref-", dir="/tmp")
        self.rw = self.tmp
        try:
            self.state = os.path.join(self.tmp, "state")
            self.bundle = os.path.join(self.tmp, "bundle")
            os.makedirs(self.state)
            os.makedirs(self.bundle)
            self.lower = self.given_lower or os.path.join(self.tmp, "lower")
            if self.given_lower is None:
                build_busybox_tree(self.lower)
            if cgroup_v2() and not os.path.isdir(V2_SUBTREE):
                os.mkdir(V2_SUBTREE)
                self._made_v2_subtree = True
        except BaseException:
            self._remove_tmp()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._made_v2_subtree:
                with contextlib.suppress(OSError):
                    os.rmdir(V2_SUBTREE)
        finally:
            self._remove_tmp()

    def _remove_tmp(self) -> None:
        if self.tmp and os.path.isdir(self.tmp):
            for path in (os.path.join(self.tmp, "merged"), os.path.join(self.tmp, "rw")):
                if _is_mount(path):
                    subprocess.run(["umount", path], check=False, capture_output=True)
            if any(_is_mount(os.path.join(root, d)) for root, dirs, _ in os.walk(self.tmp) for d in dirs):
                raise OSError(f"a mount is left under {self.tmp}: not removing it")
            shutil.rmtree(self.tmp)

    def _upper_fs(self) -> bool:
        """Give the upper layers a tmpfs of their own (mounted in the temp dir), for a /tmp that cannot be an
        overlay's upper layer: in the cgroup v2 VM /tmp is itself an overlay. False if that is done already."""
        if self.rw != self.tmp:
            return False
        self.rw = os.path.join(self.tmp, "rw")
        os.mkdir(self.rw)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=700", "runcref", self.rw], check=True, capture_output=True)
        return True

    def _v2_wrapper(self) -> list[str]:
        """On cgroup v2: run runc in a private mount namespace whose /sys/fs/cgroup is isodemo's subtree, so
        that its cgroup (an absolute path in that view) and the controllers it enables in each ancestor stay in
        the subtree. On v1, nothing: a relative cgroupsPath is already under this process's own cgroups."""
        if not cgroup_v2():
            return []
        script = f'mount --bind "{V2_SUBTREE}" "{CGROUP_ROOT}" && exec "$@"'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]

    def cgroups_path(self, name: str) -> str:
        return "/" + name if cgroup_v2() else name

    # -- one run --------------------------------------------------------------------------------------------

    def run(self, args: Sequence[str] | None = None, timeout: float = 60, *, lean: bool = False) -> Result:
        """One container: bundle, `runc run`, `runc delete -f`, bundle removed. Returns runc's exit status
        (the container's) and what the container wrote. `lean`: what a runtime's caller must do at the least
        (benchmarks/runtime.py): the overlay mounted and unmounted with mount(2)/umount2(2) rather than
        mount(8), and no `runc delete` after a run that ended (`runc run` without --keep deletes the
        container itself)."""
        name = f"isodemo-ref-{secrets.token_hex(4)}"
        run_dir = os.path.join(self.tmp, name)
        etc_dir = os.path.join(run_dir, "etc")
        os.makedirs(run_dir)
        write_network_files(etc_dir, self.hostname)
        merged = os.path.join(self.tmp, "merged")
        mounted = ran = False
        try:
            if self.overlay:
                os.makedirs(merged, exist_ok=True)
                while not mounted:
                    upper, work = os.path.join(self.rw, name, "upper"), os.path.join(self.rw, name, "work")
                    os.makedirs(upper, exist_ok=True)
                    os.makedirs(work, exist_ok=True)
                    try:
                        (_mount_overlay_syscall if lean else _mount_overlay)(self.lower, upper, work, merged)
                    except (subprocess.CalledProcessError, OSError):
                        if not self._upper_fs():
                            raise
                    else:
                        mounted = True
                root_path = merged
            else:
                root_path = self.lower
            spec = config(
                root_path,
                etc_dir,
                self.args if args is None else args,
                self.cgroups_path(name),
                privileged=self.privileged,
                hostname=self.hostname,
            )
            with open(os.path.join(self.bundle, "config.json"), "w") as f:
                json.dump(spec, f)
            wrapper = self._v2_wrapper()
            argv = [*wrapper, self.runc, "--root", self.state, "run", "--bundle", self.bundle, name]
            start = time.perf_counter()
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
            )
            seconds = time.perf_counter() - start
            ran = True
            return Result(proc.returncode, proc.stdout, proc.stderr, seconds)
        finally:
            if not (lean and ran and not os.path.exists(os.path.join(self.state, name))):
                subprocess.run(
                    [*self._v2_wrapper(), self.runc, "--root", self.state, "delete", "-f", name],
                    capture_output=True,
                    check=False,
                )
            if mounted and lean:
                _umount_syscall(merged)
            elif mounted:
                subprocess.run(["umount", merged], check=True, capture_output=True)
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(self.bundle, "config.json"))
            shutil.rmtree(run_dir)
            shutil.rmtree(os.path.join(self.rw, name), ignore_errors=True)


# -- the probe: what a process inside sees ----------------------------------------------------------------

# One busybox sh script, run as the container's command (PID 1) in runc's container and in isodemo's. Each
# section starts with a line "== NAME"; every command's stderr goes to stdout and its exit status follows
# as "rc=N", so a refusal and its errno text are compared too. /proc/sys/kernel/domainname is the sysctl
# written: it belongs to the UTS namespace, so where the write succeeds (--privileged) the host is untouched.
# /proc/sysrq-trigger 'h' only prints the sysrq help to the kernel log where it is allowed. "devices": root may
# mknod any node (CAP_MKNOD), but the device cgroup lets it open only the allowed ones: /dev/null's c 1:3,
# not a loop device (b 7:0) or /dev/loop-control (c 10:237), which fail with EPERM (--privileged: allowed).
PROBE = r"""
mkdir -p /mnt 2>/dev/null
echo "== pid"; echo $$
echo "== status"; grep -E 'Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp' /proc/self/status
echo "== mountinfo"; cat /proc/self/mountinfo
echo "== dev"
for f in /dev/* /dev/pts/* /dev/mqueue/* /dev/shm/*; do
  if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; elif [ -e "$f" ]; then stat -c '%n %A %t:%T %u:%g' "$f"; fi
done
echo "== hostname"; hostname; cat /etc/hostname
echo "== etc"; cat /etc/hosts /etc/resolv.conf
echo "== id"; id
echo "== env"; env | sort
echo "== cwd"; pwd
echo "== proc-sys"; { echo isodemo > /proc/sys/kernel/domainname; } 2>&1; echo "rc=$?"
echo "== sysrq"; { echo h > /proc/sysrq-trigger; } 2>&1; echo "rc=$?"
echo "== unshare"; unshare -U true 2>&1; echo "rc=$?"
echo "== mount"; mount -t tmpfs x /mnt 2>&1; echo "rc=$?"; umount /mnt 2>/dev/null
echo "== devices"
for n in "c 1 3" "b 7 0" "c 10 237"; do
  mknod /tmp/probe-node $n 2>&1 && head -c1 /tmp/probe-node 2>&1 >/dev/null; echo "$n rc=$?"; rm -f /tmp/probe-node
done
echo "== end"
exit 7
"""
PROBE_EXIT = 7


def sections(output: str) -> dict[str, list[str]]:
    """The probe's output, split at its "== NAME" lines."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith("== "):
            current = found.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    return found


# Superblock options that name host paths (the layers of an overlay): dropped, the rest is compared.
HOST_PATH_OPTIONS = ("lowerdir=", "upperdir=", "workdir=", "datadir=")
# Filesystems whose mount `root` (the 4th field) is a path inside the filesystem worth comparing (a masked
# /proc/keys is a bind of /null from the /dev tmpfs, a cgroup mount's root is the cgroup namespace's). For
# the others (a bind of a host file onto /etc/hosts) the root is a host path: replaced by its last part.
VIRTUAL_FS = ("proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2", "devtmpfs")


def normalize_mountinfo(lines: list[str]) -> list[str]:
    """Each mount as "MOUNTPOINT FSTYPE MOUNT-OPTIONS SUPER-OPTIONS root=ROOT", without ids, device numbers,
    the source name or host paths; sorted by mount point (stable: mounts stacked on one point keep their
    order), since two runtimes may mount siblings in a different order to the same effect."""
    out = []
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        root, mount_point, mount_options = fields[3], fields[4], fields[5]
        fstype = fields[dash + 1]
        superopts = fields[dash + 3] if len(fields) > dash + 3 else ""
        kept = [o for o in superopts.split(",") if o and not o.startswith(HOST_PATH_OPTIONS)]
        if fstype not in VIRTUAL_FS:
            root = os.path.basename(root) or "/"
        out.append((mount_point, f"{mount_point} {fstype} {mount_options} {','.join(kept)} root={root}"))
    return [text for _, text in sorted(out, key=lambda item: item[0])]
