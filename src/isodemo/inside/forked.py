"""One call in a forked child of the calling process, its answer handed back as JSON through a pipe.

For attempts that must change the process that makes them (chroot, a capability drop, a seccomp filter)
while the caller keeps its root, capabilities and filter: the child makes them and exits. An OSError comes
back as {"error": text, "errno": "ENAME"}, any other exception as {"error": repr}: data, never a traceback.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from typing import Any


def in_child(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Fork; the child runs `function(*args)` and sends back its result as JSON; the parent waits for it."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            try:
                result = function(*args)
            except OSError as error:
                result = {"error": f"{error.strerror} ({errno_name(error)})", "errno": errno_name(error)}
            except Exception as error:  # everything goes back to the parent as data
                result = {"error": repr(error)}
            os.write(write_end, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    try:
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    data = b"".join(chunks)
    return json.loads(data) if data else {"error": "no answer"}


def errno_name(error: OSError) -> str:
    """EPERM, ENOENT, ...: the name of an OSError's errno."""
    return errno.errorcode.get(error.errno or 0, str(error.errno))
