"""kernel/bpf.py without a kernel: the instruction encoding against bytes derived by hand from the format,
and the device filter's decisions, run by a small interpreter of the instructions it uses, against the
rules' meaning as v1's devices.allow defines it (Documentation/admin-guide/cgroup-v1/devices.rst).

tests/root/test_devices.py loads the same programs into the kernel."""

from __future__ import annotations

import itertools
import struct

import pytest

from isodemo.container.devices import ALLOWED
from isodemo.kernel import bpf

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only

# -- encoding -------------------------------------------------------------------------------------------------

# struct bpf_insn, little-endian: code (1 byte); dst_reg in the low nibble and src_reg in the high nibble of
# the second byte; off (s16); imm (s32). Opcodes (RFC 9669): class | size/op | mode/source, with
#   LDX 0x01, ALU 0x04, JMP 0x05, ALU64 0x07; W 0x00, MEM 0x60; K 0x00, X 0x08;
#   AND 0x50, RSH 0x70, MOV 0xb0; JNE 0x50, JSET 0x40, EXIT 0x90.
# So: ldxw = 0x61, mov64 reg = 0xbf, mov64 imm = 0xb7, and32 imm = 0x54, rsh32 imm = 0x74,
# jne imm = 0x55, jset imm = 0x45, exit = 0x95.
PROLOGUE = [
    "61 12 0000 00000000",  # r2 = *(u32 *)(r1 + 0)      dst 2, src 1: 0x12
    "bf 23 0000 00000000",  # r3 = r2                    dst 3, src 2: 0x23
    "54 02 0000 ffff0000",  # w2 &= 0xffff               the device type
    "74 03 0000 10000000",  # w3 >>= 16                  the access
    "61 14 0400 00000000",  # r4 = *(u32 *)(r1 + 4)      major
    "61 15 0800 00000000",  # r5 = *(u32 *)(r1 + 8)      minor
]
ALLOW = ["b7 00 0000 01000000", "95 00 0000 00000000"]  # r0 = 1; exit
DENY = ["b7 00 0000 00000000", "95 00 0000 00000000"]  # r0 = 0; exit


def hand(lines: list[str]) -> bytes:
    return bytes.fromhex("".join(lines).replace(" ", ""))


def test_one_instruction_by_hand() -> None:
    # if r5 != 3 goto +2: code 0x55, regs 0x05, off 2 (little-endian 02 00), imm 3 (03 00 00 00)
    assert bpf.jump_imm(bpf.BPF_JNE, 5, 3, 2) == bytes([0x55, 0x05, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00])
    assert bpf.load_word(4, 1, 4) == bytes([0x61, 0x14, 0x04, 0x00, 0, 0, 0, 0])
    assert bpf.exit_insn() == bytes([0x95, 0, 0, 0, 0, 0, 0, 0])
    assert bpf.insn(0x05, off=-1) == bytes([0x05, 0x00, 0xFF, 0xFF, 0, 0, 0, 0])  # a negative offset: s16


def test_a_program_for_one_device() -> None:
    """c 1:3 rwm (/dev/null): type, major, minor checked; rwm needs no access check. Each jump goes to the
    final deny, counted from the instruction after it: 4, 3, 2."""
    expected = hand(
        [
            *PROLOGUE,
            "55 02 0400 02000000",  # if r2 != 2 (BPF_DEVCG_DEV_CHAR) goto +4
            "55 04 0300 01000000",  # if r4 != 1 goto +3
            "55 05 0200 03000000",  # if r5 != 3 goto +2
            *ALLOW,
            *DENY,
        ]
    )
    assert bpf.device_filter(["c 1:3 rwm"]) == expected


def test_wildcards_and_an_access_check() -> None:
    """b *:* m: no major or minor check; the access check jumps when a bit other than mknod is asked for
    (r3 & (READ|WRITE) = r3 & 6). c 136:* rw: no minor check, mknod (1) is the bit refused."""
    expected = hand(
        [
            *PROLOGUE,
            "55 02 0300 01000000",  # if r2 != 1 (BPF_DEVCG_DEV_BLOCK) goto +3 (the next rule)
            "45 03 0200 06000000",  # if r3 & 6 goto +2
            *ALLOW,
            "55 02 0400 02000000",  # if r2 != 2 goto +4
            "45 03 0300 01000000",  # if r3 & 1 goto +3
            "55 04 0200 88000000",  # if r4 != 136 goto +2
            *ALLOW,
            *DENY,
        ]
    )
    assert bpf.device_filter(["b *:* m", "c 136:* rw"]) == expected


def test_allow_everything_ends_the_program() -> None:
    """`a` (= a *:* rwm) matches every access: nothing after it could run, and the verifier refuses a
    program with unreachable instructions, so it ends there."""
    assert bpf.device_filter(["a", "c 1:3 rwm"]) == hand([*PROLOGUE, *ALLOW])
    assert bpf.device_filter([]) == hand([*PROLOGUE, *DENY])


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("c 1:3 rwm", (2, 1, 3, 7)),
        ("b *:* m", (1, -1, -1, 1)),
        ("c 136:* rw", (2, 136, -1, 6)),
        ("a", (0, -1, -1, 7)),
        ("a 10:200 w", (0, 10, 200, 4)),
    ],
)
def test_rules_are_parsed(text: str, parsed: tuple[int, int, int, int]) -> None:
    assert bpf.device_rule(text) == parsed


@pytest.mark.parametrize("text", ["", "x 1:3 rwm", "c 1:3", "c 1 rwm", "c 1:3 rwx", "c -1:3 r", "c 1:3 ", "c a:b r"])
def test_bad_rules_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        bpf.device_rule(text)


# -- the decisions ------------------------------------------------------------------------------------------


def run(program: bytes, access_type: int, major: int, minor: int) -> int:
    """Interpret the instructions device_filter emits; r1 points to struct bpf_cgroup_dev_ctx."""
    context = struct.pack("<III", access_type, major, minor)
    regs = [0] * 11
    pc = 0
    mask = (1 << 64) - 1
    while True:
        code, registers, off, imm = struct.unpack_from("<BBhi", program, pc * bpf.INSN_SIZE)
        dst, src = registers & 0x0F, registers >> 4
        pc += 1
        if code == 0x61:  # ldxw: r1 is the only pointer
            assert src == 1 and off in (0, 4, 8)
            regs[dst] = struct.unpack_from("<I", context, off)[0]
        elif code == 0xBF:
            regs[dst] = regs[src]
        elif code == 0xB7:
            regs[dst] = imm & mask
        elif code == 0x54:
            regs[dst] = (regs[dst] & imm) & 0xFFFFFFFF
        elif code == 0x74:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif code == 0x55:
            pc += off if regs[dst] != imm & mask else 0
        elif code == 0x45:
            pc += off if regs[dst] & (imm & mask) else 0
        elif code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def allowed_by_rules(rules: list[str], kind: int, major: int, minor: int, access: int) -> bool:
    """devices.allow's meaning: some rule of the same type (or a), the same major and minor (or *), gives
    every access bit asked for."""
    for rule in rules:
        r_kind, r_major, r_minor, r_access = bpf.device_rule(rule)
        if r_kind in (0, kind) and r_major in (-1, major) and r_minor in (-1, minor) and access & ~r_access == 0:
            return True
    return False


DEVICES = [
    (kind, major, minor) for kind in (1, 2) for major, minor in itertools.product((1, 5, 7, 10, 136), (0, 3, 200))
]
ACCESSES = [1, 2, 4, 2 | 4, 1 | 2 | 4]  # mknod, read, write, an O_RDWR open, all


@pytest.mark.parametrize(
    "rules",
    [list(ALLOWED), ["c 1:3 rwm", "c 1:5 r", "c 1:7 w", "b *:* m"], ["a 10:* rw"], []],
    ids=["runc", "mixed", "any-type", "nothing"],
)
def test_the_program_decides_as_the_rules_say(rules: list[str]) -> None:
    program = bpf.device_filter(rules)
    for (kind, major, minor), access in itertools.product(DEVICES, ACCESSES):
        expected = allowed_by_rules(rules, kind, major, minor, access)
        got = run(program, access << 16 | kind, major, minor)
        assert got == int(expected), (rules, kind, major, minor, access)


def test_runc_s_list_allows_what_a_container_needs_and_nothing_else() -> None:
    program = bpf.device_filter(ALLOWED)
    char, block = bpf.BPF_DEVCG_DEV_CHAR, bpf.BPF_DEVCG_DEV_BLOCK
    read_write = (bpf.BPF_DEVCG_ACC_READ | bpf.BPF_DEVCG_ACC_WRITE) << 16
    assert run(program, read_write | char, 1, 3)  # /dev/null
    assert run(program, read_write | char, 136, 7)  # a pty: the container's terminal with -t
    assert run(program, bpf.BPF_DEVCG_ACC_MKNOD << 16 | block, 8, 0)  # mknod of a disk node...
    assert not run(program, bpf.BPF_DEVCG_ACC_READ << 16 | block, 8, 0)  # ...but not reading the disk
    assert not run(program, read_write | char, 10, 237)  # /dev/loop-control
    assert not run(program, read_write | char, 10, 229)  # /dev/fuse
