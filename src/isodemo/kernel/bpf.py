"""eBPF through the bpf(2) system call: load a program, attach it to a cgroup, and the few instructions
isodemo assembles itself, a device filter for cgroup v2.

cgroup v2 has no device controller with files: "Cgroup v2 device controller has no interface files and is
implemented on top of cgroup BPF" (Documentation/admin-guide/cgroup-v2.rst, "Device controller"). A
BPF_PROG_TYPE_CGROUP_DEVICE program attached to a cgroup (BPF_PROG_ATTACH, attach type BPF_CGROUP_DEVICE)
runs on every mknod(2) and every open of a device node by a process in that cgroup or below; it returns 1
to allow the access and 0 to refuse it with EPERM. Its one argument (r1) points to

    struct bpf_cgroup_dev_ctx {
        __u32 access_type;   /* (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_* */
        __u32 major;
        __u32 minor;
    };

(include/uapi/linux/bpf.h). v1's devices.allow/devices.deny files say the same in text, "c 1:3 rwm"
(Documentation/admin-guide/cgroup-v1/devices.rst); `device_filter` turns such an allow list into a program.

References: man 2 bpf (the commands and union bpf_attr); include/uapi/linux/bpf.h (struct bpf_insn, the
attr layouts, the enums); the instruction encoding in RFC 9669, "BPF Instruction Set Architecture"
(Documentation/bpf/standardization/instruction-set.rst). runc generates the same kind of program in Go
(libcontainer/cgroups/devices/devicefilter.go); this one is written from the kernel's definitions.

Only for the machines isodemo runs on, all little-endian: struct bpf_insn's two 4-bit register fields are
packed dst first (the low nibble) there.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import struct

from isodemo.errors import KernelError
from isodemo.i18n import _

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

# __NR_bpf (arch/x86/entry/syscalls/syscall_64.tbl; include/uapi/asm-generic/unistd.h for the others)
SYSCALL_NUMBERS = {"x86_64": 321, "aarch64": 280, "riscv64": 280}

# enum bpf_cmd
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_NEXT_ID = 11
BPF_PROG_GET_FD_BY_ID = 13
BPF_OBJ_GET_INFO_BY_FD = 15

# enum bpf_prog_type, enum bpf_attach_type, attach flags
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2  # other programs may be attached to the same cgroup too; all of them must allow

# struct bpf_cgroup_dev_ctx: the device type in the low 16 bits of access_type, the access in the high 16
BPF_DEVCG_DEV_BLOCK = 1
BPF_DEVCG_DEV_CHAR = 2
BPF_DEVCG_ACC_MKNOD = 1
BPF_DEVCG_ACC_READ = 2
BPF_DEVCG_ACC_WRITE = 4
DEVICE_TYPES = {"a": 0, "b": BPF_DEVCG_DEV_BLOCK, "c": BPF_DEVCG_DEV_CHAR}  # 0: any type
ACCESS_BITS = {"m": BPF_DEVCG_ACC_MKNOD, "r": BPF_DEVCG_ACC_READ, "w": BPF_DEVCG_ACC_WRITE}
ANY = -1  # "*" as a major or minor number
ALL_ACCESS = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE

# -- the instruction set (RFC 9669) ---------------------------------------------------------------------------

# instruction classes
BPF_LDX = 0x01
BPF_ALU = 0x04  # 32-bit operations: the upper half of the destination becomes 0
BPF_JMP = 0x05  # jumps compare the whole 64-bit registers
BPF_ALU64 = 0x07
# size and mode of a load
BPF_W = 0x00  # 4 bytes
BPF_MEM = 0x60
# source: the immediate (K) or the src register (X)
BPF_K = 0x00
BPF_X = 0x08
# ALU operations
BPF_AND = 0x50
BPF_RSH = 0x70
BPF_MOV = 0xB0
# jump operations
BPF_JA = 0x00
BPF_JEQ = 0x10
BPF_JSET = 0x40  # jump if dst & imm != 0
BPF_JNE = 0x50
BPF_EXIT = 0x90

INSN_SIZE = 8  # struct bpf_insn { __u8 code; __u8 dst_reg:4, src_reg:4; __s16 off; __s32 imm; }
_INSN = struct.Struct("<BBhi")


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One struct bpf_insn. `off` is a jump's distance in instructions, counted from the next one."""
    return _INSN.pack(code, (src << 4) | dst, off, imm)


def load_word(dst: int, src: int, off: int) -> bytes:
    """dst = *(u32 *)(src + off), zero-extended to 64 bits."""
    return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off)


def mov_imm(dst: int, imm: int) -> bytes:
    return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, imm=imm)


def mov_reg(dst: int, src: int) -> bytes:
    return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src)


def and_imm32(dst: int, imm: int) -> bytes:
    return insn(BPF_ALU | BPF_AND | BPF_K, dst, imm=imm)


def rsh_imm32(dst: int, imm: int) -> bytes:
    return insn(BPF_ALU | BPF_RSH | BPF_K, dst, imm=imm)


def jump_imm(op: int, dst: int, imm: int, off: int) -> bytes:
    """if (dst OP imm) goto +off: BPF_JNE, BPF_JEQ, BPF_JSET."""
    return insn(BPF_JMP | op | BPF_K, dst, off=off, imm=imm)


def exit_insn() -> bytes:
    """Return r0 to the kernel."""
    return insn(BPF_JMP | BPF_EXIT)


# -- device rules -> a program --------------------------------------------------------------------------------


def device_rule(text: str) -> tuple[int, int, int, int]:
    """A rule in the syntax of v1's devices.allow, "TYPE MAJOR:MINOR ACCESS" ("c 1:3 rwm", "b *:* m", "c 136:*
    rw"; "a" alone is "a *:* rwm"), as (type bits or 0 for any, major or ANY, minor or ANY, access bits).
    ValueError for anything else."""
    words = text.split()
    if words == ["a"]:
        words = ["a", "*:*", "rwm"]
    if len(words) != 3 or words[0] not in DEVICE_TYPES:
        raise ValueError(f"not a device rule: {text!r}")
    major, colon, minor = words[1].partition(":")
    access = 0
    for letter in words[2]:
        if letter not in ACCESS_BITS:
            raise ValueError(f"not a device access in {text!r}: {letter!r}")
        access |= ACCESS_BITS[letter]
    if not colon or not access:
        raise ValueError(f"not a device rule: {text!r}")
    return DEVICE_TYPES[words[0]], _number(major, text), _number(minor, text), access


def _number(word: str, text: str) -> int:
    if word == "*":
        return ANY
    if not word.isdigit() or int(word) > 0xFFFFFFFF:
        raise ValueError(f"not a device number in {text!r}: {word!r}")
    return int(word)


# Registers of the program: r1 holds the context on entry, r0 the answer on exit.
_R_TYPE, _R_ACCESS, _R_MAJOR, _R_MINOR = 2, 3, 4, 5


def device_filter(rules: Iterable[str]) -> bytes:
    """A BPF_PROG_TYPE_CGROUP_DEVICE program that allows what one of `rules` allows (devices.allow syntax)
    and denies everything else, as v1's `echo a > devices.deny` followed by one devices.allow write per rule.

        r2 = ctx->access_type & 0xffff     the device type
        r3 = ctx->access_type >> 16        the access asked for (several bits when an open reads and writes)
        r4 = ctx->major; r5 = ctx->minor
        for each rule:                     (a check the rule does not need is left out)
            if r2 != TYPE goto next
            if r3 & ~ACCESS goto next      a bit asked for that the rule does not give
            if r4 != MAJOR goto next
            if r5 != MINOR goto next
            r0 = 1; exit                   allowed
        next: ...
        r0 = 0; exit                       no rule allowed it: EPERM
    """
    program = [
        load_word(_R_TYPE, 1, 0),
        mov_reg(_R_ACCESS, _R_TYPE),
        and_imm32(_R_TYPE, 0xFFFF),
        rsh_imm32(_R_ACCESS, 16),
        load_word(_R_MAJOR, 1, 4),
        load_word(_R_MINOR, 1, 8),
    ]
    for text in rules:
        kind, major, minor, access = device_rule(text)
        tests: list[tuple[int, int, int]] = []  # (jump op, register, immediate): each jumps to the next rule
        if kind:
            tests.append((BPF_JNE, _R_TYPE, kind))
        if access != ALL_ACCESS:
            tests.append((BPF_JSET, _R_ACCESS, ALL_ACCESS & ~access))
        if major != ANY:
            tests.append((BPF_JNE, _R_MAJOR, major))
        if minor != ANY:
            tests.append((BPF_JNE, _R_MINOR, minor))
        for index, (op, register, imm) in enumerate(tests):
            remaining = len(tests) - index - 1
            program.append(jump_imm(op, register, imm, remaining + 2))  # over the other tests and the allow
        program += [mov_imm(0, 1), exit_insn()]
        if not tests:  # "a *:* rwm" allows everything: what follows could never run (the verifier refuses that)
            return b"".join(program)
    program += [mov_imm(0, 0), exit_insn()]
    return b"".join(program)


# -- the system call --------------------------------------------------------------------------------------------


class _ProgLoadAttr(ctypes.Structure):
    """union bpf_attr for BPF_PROG_LOAD, up to expected_attach_type (the kernel takes the rest as zero)."""

    _fields_ = [
        ("prog_type", ctypes.c_uint32),
        ("insn_cnt", ctypes.c_uint32),
        ("insns", ctypes.c_uint64),
        ("license", ctypes.c_uint64),
        ("log_level", ctypes.c_uint32),
        ("log_size", ctypes.c_uint32),
        ("log_buf", ctypes.c_uint64),
        ("kern_version", ctypes.c_uint32),
        ("prog_flags", ctypes.c_uint32),
        ("prog_name", ctypes.c_char * 16),  # BPF_OBJ_NAME_LEN: letters, digits, '_' and '.', 15 at most
        ("prog_ifindex", ctypes.c_uint32),
        ("expected_attach_type", ctypes.c_uint32),
    ]


class _AttachAttr(ctypes.Structure):
    """union bpf_attr for BPF_PROG_ATTACH and BPF_PROG_DETACH."""

    _fields_ = [
        ("target_fd", ctypes.c_uint32),
        ("attach_bpf_fd", ctypes.c_uint32),
        ("attach_type", ctypes.c_uint32),
        ("attach_flags", ctypes.c_uint32),
        ("replace_bpf_fd", ctypes.c_uint32),
    ]


class _IdAttr(ctypes.Structure):
    """union bpf_attr for BPF_PROG_GET_NEXT_ID (start_id -> next_id) and BPF_PROG_GET_FD_BY_ID (prog_id)."""

    _fields_ = [("id", ctypes.c_uint32), ("next_id", ctypes.c_uint32), ("open_flags", ctypes.c_uint32)]


class _InfoAttr(ctypes.Structure):
    """union bpf_attr for BPF_OBJ_GET_INFO_BY_FD."""

    _fields_ = [("bpf_fd", ctypes.c_uint32), ("info_len", ctypes.c_uint32), ("info", ctypes.c_uint64)]


class _ProgInfo(ctypes.Structure):
    """The start of struct bpf_prog_info, up to its name (Linux 4.15)."""

    _fields_ = [
        ("type", ctypes.c_uint32),
        ("id", ctypes.c_uint32),
        ("tag", ctypes.c_uint8 * 8),
        ("jited_prog_len", ctypes.c_uint32),
        ("xlated_prog_len", ctypes.c_uint32),
        ("jited_prog_insns", ctypes.c_uint64),
        ("xlated_prog_insns", ctypes.c_uint64),
        ("load_time", ctypes.c_uint64),
        ("created_by_uid", ctypes.c_uint32),
        ("nr_map_ids", ctypes.c_uint32),
        ("map_ids", ctypes.c_uint64),
        ("name", ctypes.c_char * 16),
    ]


@functools.cache
def _syscall() -> tuple[Callable[..., int], int]:
    """syscall(3), typed for bpf(2), and the number of bpf(2) on this machine."""
    machine = os.uname().machine
    if machine not in SYSCALL_NUMBERS:
        raise OSError(
            errno.ENOSYS, _("isodemo does not know the number of {name}(2) on {machine}", name="bpf", machine=machine)
        )
    from isodemo.kernel.libc import libc

    function = libc()["syscall"]  # a function object of its own: libc.py types `syscall` for pivot_root
    function.restype = ctypes.c_long
    function.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_uint]
    return function, SYSCALL_NUMBERS[machine]


def _bpf(command: int, attr: ctypes.Structure) -> int:
    """bpf(command, &attr, sizeof attr); OSError with the errno on failure."""
    function, number = _syscall()
    result = function(number, command, ctypes.addressof(attr), ctypes.sizeof(attr))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return int(result)


LOG_SIZE = 1 << 16


def load_program(prog_type: int, code: bytes, *, name: str = "", license: str = "MIT") -> int:
    """BPF_PROG_LOAD: the kernel's verifier checks the program, then it gets a file descriptor (the caller
    closes it). On failure the load is repeated with the verifier's log, which says why, in the error.
    `license` matters only to programs that call GPL-only helpers; these call none."""
    instructions = ctypes.create_string_buffer(code, len(code))
    license_text = ctypes.create_string_buffer(license.encode())
    attr = _ProgLoadAttr(
        prog_type=prog_type,
        insn_cnt=len(code) // INSN_SIZE,
        insns=ctypes.addressof(instructions),
        license=ctypes.addressof(license_text),
        prog_name=name.encode()[:15],
    )
    try:
        return _bpf(BPF_PROG_LOAD, attr)
    except OSError as error:
        log = ctypes.create_string_buffer(LOG_SIZE)
        attr.log_level, attr.log_size, attr.log_buf = 1, LOG_SIZE, ctypes.addressof(log)
        try:
            return _bpf(BPF_PROG_LOAD, attr)  # it may pass now; then the first failure was transient
        except OSError:
            pass
        reason = os.strerror(error.errno or 0)
        lines = log.value.decode(errors="replace").strip().splitlines()
        verifier = [line for line in lines if not line.startswith("processed ")]  # not the statistics
        if verifier:  # the verifier refused it: a mistake in the program, the last lines say which
            reason += "; " + _("the verifier says: {log}", log=" / ".join(verifier[-2:]))
        hint = None if verifier else _load_hint(error.errno)
        raise KernelError("bpf(BPF_PROG_LOAD)", error.errno or 0, reason, hint) from None


def _load_hint(code: int | None) -> str | None:
    if code == errno.EPERM:
        return _(
            "loading a BPF program needs CAP_SYS_ADMIN (run it as root); before Linux 5.11 it also counts "
            "against the locked-memory limit (ulimit -l)"
        )
    if code in (errno.ENOSYS, errno.EINVAL):
        return _("this kernel may lack the program type: it needs CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF")
    return None


def attach_to_cgroup(directory: str, prog_fd: int, attach_type: int, flags: int = BPF_F_ALLOW_MULTI) -> None:
    """BPF_PROG_ATTACH of a loaded program to a cgroup v2 directory. The cgroup then holds the program: it
    stays attached after its file descriptor is closed, until it is detached or the cgroup is removed."""
    target = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _bpf(
            BPF_PROG_ATTACH,
            _AttachAttr(target_fd=target, attach_bpf_fd=prog_fd, attach_type=attach_type, attach_flags=flags),
        )
    except OSError as error:
        hint = _("the cgroup must be on cgroup v2, and the kernel built with CONFIG_CGROUP_BPF")
        raise KernelError("bpf(BPF_PROG_ATTACH)", error.errno or 0, os.strerror(error.errno or 0), hint) from None
    finally:
        os.close(target)


def attach_device_filter(directory: str, rules: Sequence[str], name: str = "isodemo_devices") -> int:
    """device_filter(rules) loaded and attached to the cgroup `directory` (BPF_CGROUP_DEVICE,
    BPF_F_ALLOW_MULTI: a filter of an ancestor still applies). Returns the program's id (bpftool prog show id
    N); no file descriptor is left open."""
    fd = load_program(BPF_PROG_TYPE_CGROUP_DEVICE, device_filter(rules), name=name)
    try:
        prog_id = program_info(fd)[0]
        attach_to_cgroup(directory, fd, BPF_CGROUP_DEVICE)
    finally:
        os.close(fd)
    return prog_id


def program_info(fd: int) -> tuple[int, int, str]:
    """(id, program type, name) of a loaded program, from its file descriptor (BPF_OBJ_GET_INFO_BY_FD)."""
    info = _ProgInfo()
    _bpf(BPF_OBJ_GET_INFO_BY_FD, _InfoAttr(bpf_fd=fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info)))
    return info.id, info.type, info.name.decode(errors="replace")


def loaded_programs() -> list[tuple[int, int, str]]:
    """(id, type, name) of every BPF program loaded in the kernel, as `bpftool prog list` shows them (needs
    CAP_SYS_ADMIN). A program that goes away between two calls is left out."""
    found: list[tuple[int, int, str]] = []
    attr = _IdAttr(id=0)
    while True:
        try:
            _bpf(BPF_PROG_GET_NEXT_ID, attr)
        except OSError as error:
            if error.errno == errno.ENOENT:  # no program with a higher id
                return found
            raise
        attr.id = attr.next_id
        try:
            fd = _bpf(BPF_PROG_GET_FD_BY_ID, _IdAttr(id=attr.next_id))
        except OSError as error:
            if error.errno == errno.ENOENT:
                continue
            raise
        try:
            found.append(program_info(fd))
        finally:
            os.close(fd)
