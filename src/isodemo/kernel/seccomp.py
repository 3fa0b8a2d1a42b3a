"""seccomp filters through libseccomp (libseccomp.so.2, Debian's libseccomp2), called with ctypes.

A filter is a small BPF program the kernel runs on every system call of the process and its children; it
answers ALLOW, ERRNO(n), KILL... from the syscall number and its register arguments (man 2 seccomp). It can
compare arguments but not read memory they point to. libseccomp builds that program from rules: "this
syscall, when these argument comparisons hold, gets this action" (man 3 seccomp_rule_add). A process loads
a filter with SECCOMP_SET_MODE_FILTER only if it has no_new_privs set or CAP_SYS_ADMIN in its user namespace.

libseccomp functions return a negative errno on failure (not -1 with errno set): `_checked` turns that into
OSError. Each `Filter` owns one libseccomp context and releases it (seccomp_release) when closed.
"""

from __future__ import annotations

import ctypes
import errno
import os

from isodemo.errors import MissingFeature
from isodemo.i18n import _

LIBRARY = "libseccomp.so.2"

# <seccomp.h>: actions (man 3 seccomp_init)
SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_KILL_THREAD = 0x00000000
SCMP_ACT_TRAP = 0x00030000
SCMP_ACT_LOG = 0x7FFC0000
SCMP_ACT_ALLOW = 0x7FFF0000


def SCMP_ACT_ERRNO(error: int) -> int:
    """The action "fail with this errno": the syscall is not run, it returns -1 and sets errno."""
    return 0x00050000 | (error & 0x0000FFFF)


# enum scmp_filter_attr (man 3 seccomp_attr_set)
SCMP_FLTATR_ACT_DEFAULT = 1
SCMP_FLTATR_ACT_BADARCH = 2
SCMP_FLTATR_CTL_NNP = 3  # 1 (libseccomp's default): set no_new_privs on load; isodemo sets it to 0
SCMP_FLTATR_CTL_TSYNC = 4
SCMP_FLTATR_CTL_OPTIMIZE = 8  # libseccomp >= 2.5: 2 = a binary tree of syscall numbers, not a linear list

# enum scmp_compare (man 3 seccomp_rule_add)
SCMP_CMP_NE = 1
SCMP_CMP_LT = 2
SCMP_CMP_LE = 3
SCMP_CMP_EQ = 4
SCMP_CMP_GE = 5
SCMP_CMP_GT = 6
SCMP_CMP_MASKED_EQ = 7  # (arg & datum_a) == datum_b

__NR_SCMP_ERROR = -1  # what seccomp_syscall_resolve_name returns for a name it does not know

# /proc/PID/status "Seccomp:" values (man 5 proc)
SECCOMP_MODE_DISABLED = 0
SECCOMP_MODE_STRICT = 1
SECCOMP_MODE_FILTER = 2


class scmp_arg_cmp(ctypes.Structure):
    """struct scmp_arg_cmp: compare argument `arg` (0-5) with `op` against datum_a (and datum_b)."""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),  # enum scmp_compare
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


_ctx = ctypes.c_void_p
_PROTOTYPES: dict[str, tuple[type | None, list[type]]] = {
    "seccomp_init": (_ctx, [ctypes.c_uint32]),
    "seccomp_release": (None, [_ctx]),
    "seccomp_attr_set": (ctypes.c_int, [_ctx, ctypes.c_int, ctypes.c_uint32]),
    "seccomp_syscall_resolve_name": (ctypes.c_int, [ctypes.c_char_p]),
    # The non-variadic form: ctypes cannot pass structs through C varargs reliably (seccomp_rule_add's `...`).
    "seccomp_rule_add_array": (
        ctypes.c_int,
        [_ctx, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(scmp_arg_cmp)],
    ),
    "seccomp_load": (ctypes.c_int, [_ctx]),
}


# Loaded once, on first use (functools.cache would do it, but functools brings collections: ~1 ms of every start).
_loaded: dict[str, ctypes.CDLL] = {}


def library() -> ctypes.CDLL:
    """libseccomp, loaded once; MissingFeature (with the package to install) when it is not there."""
    if LIBRARY in _loaded:
        return _loaded[LIBRARY]
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError as error:
        raise MissingFeature(
            _("the seccomp library {library} cannot be loaded: {reason}", library=LIBRARY, reason=error),
            "apt-get install libseccomp2",
        ) from None
    for name, (restype, argtypes) in _PROTOTYPES.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    _loaded[LIBRARY] = lib
    return lib


def _checked(result: int, call: str) -> int:
    """libseccomp's convention: a negative return value is -errno."""
    if result < 0:
        raise OSError(-result, f"{call}: {os.strerror(-result)}")
    return result


def resolve(name: str) -> int | None:
    """The number of a syscall on this machine's architecture (seccomp_syscall_resolve_name(3)); None when
    libseccomp does not know the name, or the call does not exist here (a negative pseudo-number)."""
    number = int(library().seccomp_syscall_resolve_name(name.encode()))
    return number if number >= 0 else None


class Filter:
    """One libseccomp filter context: `Filter(default_action)`, `add(...)` rules, `load()`, `close()`."""

    def __init__(self, default_action: int, *, no_new_privs: bool = False) -> None:
        lib = library()
        context = lib.seccomp_init(default_action)
        if not context:
            raise OSError(errno.EINVAL, "seccomp_init: failed")
        self._context: int | None = context
        self.rules = 0
        # libseccomp sets no_new_privs itself on load unless told not to: that would change what setuid
        # binaries do in the container, which only --security-opt no-new-privileges may.
        self.set_attribute(SCMP_FLTATR_CTL_NNP, int(no_new_privs))

    def _handle(self) -> int:
        if self._context is None:
            raise ValueError("seccomp filter context already released")
        return self._context

    def set_attribute(self, attribute: int, value: int) -> None:
        """seccomp_attr_set(3)."""
        _checked(library().seccomp_attr_set(self._handle(), attribute, value), "seccomp_attr_set")

    def add(self, action: int, syscall: int, *comparisons: tuple[int, int, int, int]) -> None:
        """seccomp_rule_add_array(3): `action` for `syscall` when every (arg, op, datum_a, datum_b) holds
        (they are ANDed; several rules for one syscall are ORed)."""
        array = (scmp_arg_cmp * len(comparisons))(*(scmp_arg_cmp(*c) for c in comparisons)) if comparisons else None
        _checked(
            library().seccomp_rule_add_array(self._handle(), action, syscall, len(comparisons), array),
            "seccomp_rule_add_array",
        )
        self.rules += 1

    def load(self) -> None:
        """seccomp_load(3): hand the BPF program to the kernel, seccomp(SECCOMP_SET_MODE_FILTER). From here
        on the filter applies to this thread and everything it starts; it can never be removed."""
        _checked(library().seccomp_load(self._handle()), "seccomp_load")

    def close(self) -> None:
        """seccomp_release(3): free the context (a loaded filter stays in the kernel)."""
        if self._context is not None:
            library().seccomp_release(self._context)
            self._context = None

    def __enter__(self) -> Filter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mode(pid: int | str = "self") -> int:
    """The Seccomp: line of /proc/PID/status: 0 none, 1 strict, 2 filter."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return SECCOMP_MODE_DISABLED
