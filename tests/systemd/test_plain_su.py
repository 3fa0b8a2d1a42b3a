"""A plain `su - USER` from a session that is already open (root's, here): pam_systemd makes no new session
for USER, so there is no XDG_RUNTIME_DIR and no user manager to ask for a delegated cgroup. Run by root:
tests/vm/run-in-systemd-vm --as-root -- python -m pytest -p no:cacheprovider tests/systemd/test_plain_su.py
"""

from __future__ import annotations

import os
import shlex
import subprocess


def test_plain_su_gives_no_user_manager_and_isodemo_says_so(root_in_vm: str) -> None:
    isodemo = os.path.join(os.environ["ISODEMO_VENV"], "bin", "isodemo")
    inner = f'echo "runtime=$XDG_RUNTIME_DIR"; exec {shlex.quote(isodemo)} cgroup-memory --plain'
    # `su -l root` opens root's session (as a login would); the plain `su -` runs inside it.
    outer = f"su - {shlex.quote(root_in_vm)} -c {shlex.quote(inner)}"
    proc = subprocess.run(
        ["su", "-l", "root", "-c", outer],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert "runtime=\n" in proc.stdout, proc.stdout
    assert proc.returncode == 77, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "sudo isodemo cgroup-memory" in proc.stderr, proc.stderr
