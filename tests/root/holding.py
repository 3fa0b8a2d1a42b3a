"""Drive `isodemo ... --hold` from a test: start it, read the `holding:` line, release it."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from isodemo.kernel import procfs
from tests.conftest import isodemo_argv


class Held:
    def __init__(self, *args: str, wrapper: Sequence[str] = (), **popen: Any) -> None:
        """`popen`: more subprocess.Popen arguments (user=, group=, env= to hold a rootless run).
        `wrapper`: a command that runs isodemo (`setsid -f`: a run whose parent is not the test)."""
        self.proc = subprocess.Popen(
            [*wrapper, *isodemo_argv(*args, "--hold")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **popen,
        )
        self.before: list[str] = []
        self.rest = ""  # stdout read after the holding line, before release()
        self.info = self._read_holding()

    def _read_holding(self, timeout: float = 60) -> dict[str, Any]:
        """Read stdout up to the holding line. From the descriptor, not the text stream: a readline() that
        buffers the holding line together with the lines before it would leave select() waiting for data
        that already arrived. What came after the holding line is kept for release()."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        data = b""
        while time.monotonic() < deadline:
            while b"\n" in data:
                raw, data = data.split(b"\n", 1)
                line = raw.decode(errors="replace") + "\n"
                if line.startswith("holding: "):
                    self.rest = data.decode(errors="replace")
                    info: dict[str, Any] = json.loads(line[len("holding: ") :])
                    return info
                self.before.append(line)
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        _out, err = self.kill()
        raise AssertionError(f"no holding line; stdout: {''.join(self.before)[-2000:]}; stderr: {err[-2000:]}")

    def release(self, how: str = "enter", timeout: float = 60) -> tuple[int, str, str]:
        if how == "enter":
            assert self.proc.stdin is not None
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
        else:
            self.proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, self.rest + out, err

    def kill(self) -> tuple[str, str]:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        out, err = self.proc.communicate(timeout=60)
        return out, err


def run_processes(run_id: str) -> list[int]:
    """Every process named after this run: its helper and its child."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == f"isodemo-{run_id}":
                        found.append(int(entry))
            except OSError:
                continue
    return found


def wait_gone(pids: list[int], timeout: float = 10) -> list[int]:
    """Processes that still exist after `timeout` (the kernel tears namespaces down asynchronously)."""
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if not _exited(pid)]
        if alive:
            time.sleep(0.02)
    return alive


def _exited(pid: int) -> bool:
    return procfs.is_zombie(pid)
