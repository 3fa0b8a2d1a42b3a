"""How long a whole container takes, start to end: `isodemo run busybox /bin/true` next to runc, unshare(1),
docker (where a daemon answers) and bare Python. Needs root.

    sudo python benchmarks/runtime.py [--rounds 30]

Each contender runs once to warm up (isodemo builds its busybox image on first use), then `--rounds` times,
interleaved: round i runs every contender once, in the listed order on even rounds and reversed on odd
ones, so a slow patch of the machine falls on all of them. Wall time of the whole process, from fork to
exit; the median and the 90th percentile (nearest rank) are quoted.

- `isodemo run busybox /bin/true`: the default network (none), a new cgroup, overlay rootfs, caps, seccomp;
  run as the command setup.sh installs (src/isodemo/launcher.py: the venv's Python with -S, no `site`, the
  directory holding isodemo on sys.path), written by this script into a temp dir for the isodemo it imports
  itself (PYTHONPATH), and started with no PYTHONPATH. One more row runs it as pip's console script does
  (`from isodemo.cli import main` with `site`, the tree on PYTHONPATH): what starting without `site` saves.
- `runc run`: the bundle of tests/runcref.py (Docker's settings: pid, mount, uts, ipc, net and cgroup
  namespaces, a cgroup, Docker's 14 capabilities, masked paths, a seccomp filter), its rootfs an overlay
  mounted by this script on a busybox tree, as containerd mounts one for Docker. Two rows: runc alone (the
  overlay already mounted, config.json written), and the whole sequence a caller needs (mount the overlay,
  write config.json, `runc run`, `runc delete`, unmount).
- the `unshare(1)` chain: the same namespaces and a /proc, chroot into the busybox tree: no cgroup, no
  overlay, no capability or seccomp work: what the kernel part costs from C.
- `python3 -c pass` and `python3 -S -c pass`: the floor for anything written in Python; and the same
  interpreter importing exactly the isodemo modules a run imports (found by one run in this process first):
  what isodemo's imports cost on their own.
- isodemo's own stages: `isodemo run --json busybox /bin/true` reports a `timings` fact (milliseconds per
  stage, up to the execve of the command, then until its end is seen and until the teardown is over); the
  medians of each stage over the rounds are printed.

Bytecode: isodemo runs as an installed program does, its modules' bytecode compiled once (pip compiles it at
install time; an editable install writes it on first use). A shell with PYTHONDONTWRITEBYTECODE set (this
project's sessions have it) would compile every module at every start instead: the Python contenders run
without it, with PYTHONPYCACHEPREFIX pointing at a directory of this script's (removed at the end), and one
more row shows `isodemo run` with PYTHONDONTWRITEBYTECODE=1 and no cache, for comparison.

A/B: `--before SRC --after SRC` (two source trees holding `isodemo/`, e.g. a clone's `src`) replace the
isodemo rows by `isodemo run busybox /bin/true` from each tree, interleaved in the same rounds: both run as
the installed command does, each through a launcher of this script's for its tree (the text of the isodemo
this script imports, so the same for both: -S, the tree on sys.path, no PYTHONPATH), so that the venv's
installed isodemo is not the one timed. `--json` runs then come from the `--after` tree.

Everything the script creates (temp dirs under /tmp, isodemo's image store under /var/tmp, the overlay
mount, runc's state and cgroups) is removed before it exits. Results and method: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests import runcref

from isodemo import launcher

ISODEMO: list[str] = []  # the launcher of the tree timed (main() writes it): what the --json runs run

NAMESPACES = ["--pid", "--mount", "--uts", "--ipc", "--net", "--cgroup"]


class Failed(Exception):
    """A contender did not do its work (non-zero exit): its times would mean nothing."""


class Contender:
    """One row: a label and a function that runs it once and returns the seconds it took."""

    def __init__(self, label: str, once: Callable[[], float]) -> None:
        self.label = label
        self.once = once
        self.times: list[float] = []
        self.failure: str | None = None

    def run(self, record: bool = True) -> None:
        if self.failure is not None:
            return
        try:
            seconds = self.once()
        except Failed as e:
            self.failure = str(e)
        else:
            if record:
                self.times.append(seconds)


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(no message)"


# The environment of the Python contenders: bytecode written once and read after (see the docstring).
PYTHON_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
NO_CACHE_ENV = {**PYTHON_ENV, "PYTHONDONTWRITEBYTECODE": "1"}

# Runs `isodemo run busybox /bin/true` in this process, then lists the isodemo modules it imported.
MODULES_PROBE = (
    "import sys\nfrom isodemo.cli import main\ncode = main(['run', 'busybox', '/bin/true'])\n"
    "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] == 'isodemo')))\nsys.exit(code)"
)


# What pip's console script `isodemo` runs, with site (with PYTHONPATH naming the tree).
CONSOLE_SCRIPT = "import sys\nfrom isodemo.cli import main\nsys.exit(main())"


def launcher_env(env: dict[str, str]) -> dict[str, str]:
    """`env` without PYTHONPATH: the launcher names its tree itself, as the installed command does."""
    return {k: v for k, v in env.items() if k != "PYTHONPATH"}


def write_launcher(directory: str, name: str, python: str, src: str) -> str:
    """The installed command's text (src/isodemo/launcher.py) for `src`, as `directory`/`name`."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(launcher.script(python, src))
    os.chmod(path, 0o755)
    return path


def run_modules(python: str) -> list[str]:
    """The isodemo modules `isodemo run busybox /bin/true` imports (in the parent process)."""
    proc = subprocess.run(
        [python, "-c", MODULES_PROBE],
        capture_output=True,
        text=True,
        env=PYTHON_ENV,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SystemExit(f"cannot list the modules of a run: {_last_line(proc.stderr)}")
    return proc.stdout.split()


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        check=False,
        env=env or PYTHON_ENV,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise Failed(f"exit {proc.returncode}: {_last_line(proc.stderr)}")
    return seconds


def p90(times: list[float]) -> float:
    """The 90th percentile, nearest rank."""
    ordered = sorted(times)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def docker_state() -> str | None:
    """None when `docker run busybox` can be timed here, else why not."""
    docker = shutil.which("docker")
    if docker is None:
        return "absent (no docker command, no daemon)"
    try:
        info = subprocess.run([docker, "info"], capture_output=True, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        return "absent (the daemon does not answer)"
    if info.returncode != 0:
        return "absent (no daemon answers)"
    image = subprocess.run([docker, "image", "inspect", "busybox"], capture_output=True, check=False)
    if image.returncode != 0:
        return "no busybox image (nothing can be pulled here)"
    return None


class IsodemoStages:
    """`isodemo run --json busybox /bin/true`, timed, keeping the `timings` fact of each run."""

    def __init__(self) -> None:
        self.reports: list[dict[str, float]] = []
        self.walls: list[float] = []  # the whole process of each report, ms
        self.problem: str | None = None

    def __call__(self) -> float:
        start = time.perf_counter()
        proc = subprocess.run(
            [*ISODEMO, "run", "--json", "busybox", "/bin/true"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
            env=launcher_env(PYTHON_ENV),
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise Failed(f"exit {proc.returncode}: {_last_line(proc.stderr)}")
        try:
            timings = json.loads(proc.stdout.strip().splitlines()[-1])["facts"]["timings"]
        except (ValueError, IndexError, KeyError, TypeError):
            self.problem = "no `timings` fact in the JSON object"
        else:
            if isinstance(timings, dict):
                self.reports.append({str(k): float(v) for k, v in timings.items() if isinstance(v, (int, float))})
                self.walls.append(seconds * 1000)
            else:
                self.problem = f"`timings` is a {type(timings).__name__}, not an object of milliseconds"
        return seconds


def table(rows: list[Contender], docker: str | None) -> list[str]:
    baseline = statistics.median(rows[0].times) if rows[0].times else None
    lines = ["| command | median ms | p90 ms | min ms | / python -c pass |", "|---|---|---|---|---|"]
    for row in rows:
        if row.failure or not row.times:
            lines.append(f"| {row.label} | failed: {row.failure or 'no run'} | | | |")
            continue
        median = statistics.median(row.times)
        ratio = f"{median / baseline:.1f}x" if baseline else ""
        cells = [f"{median * 1000:.1f}", f"{p90(row.times) * 1000:.1f}", f"{min(row.times) * 1000:.1f}", ratio]
        lines.append(f"| {row.label} | {' | '.join(cells)} |")
    if docker is not None:
        lines.append(f"| docker run --rm busybox /bin/true | {docker} | | | |")
    return lines


def stage_table(stages: IsodemoStages) -> list[str]:
    """Medians of each stage. Where a report's values never decrease they are laps (milliseconds since one
    start, as runtime.py's `lap()` records them): the time of each stage is then its lap minus the one before."""
    if not stages.reports:
        return [f"isodemo's stages: none reported ({stages.problem or 'no successful run --json'})"]
    names = list(stages.reports[0])
    laps = all(list(r.values()) == sorted(r.values()) for r in stages.reports)
    lines = [
        f"isodemo's stages (the `timings` fact of `run --json`, {len(stages.reports)} runs, medians, ms):",
        "",
        "| stage | reported | stage alone |" if laps else "| stage | reported |",
        "|---|---|---|" if laps else "|---|---|",
    ]
    for index, name in enumerate(names):
        values = [report[name] for report in stages.reports if name in report]
        row = f"| {name} | {statistics.median(values):.2f} |"
        if laps:
            previous = names[index - 1] if index else None
            alone = [r[name] - (r[previous] if previous else 0.0) for r in stages.reports if name in r]
            row += f" {statistics.median(alone):.2f} |"
        lines.append(row)
    if laps:
        rest = [wall - max(report.values()) for wall, report in zip(stages.walls, stages.reports, strict=True)]
        lines.append(f"| (whole process minus the last lap) | {statistics.median(rest):.2f} | |")
        lines += [
            "",
            "The last row is what the laps do not cover: the interpreter starting, isodemo's imports and its",
            "work before build() (the host's probe, the run's record), and the process exiting.",
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--before", metavar="SRC", help="A/B: the source tree (holding isodemo/) timed as before")
    parser.add_argument("--after", metavar="SRC", help="A/B: the source tree timed as after")
    args = parser.parse_args()
    if (args.before is None) != (args.after is None):
        parser.error("--before and --after go together")
    if os.geteuid() != 0:
        sys.exit("benchmarks/runtime.py needs root (namespaces, cgroups, overlay mounts): run it with sudo")
    if runcref.runc_path() is None:
        sys.exit("runc is not installed: sudo apt install runc")
    python = sys.executable
    stages = IsodemoStages()
    docker = docker_state()
    pycache = tempfile.mkdtemp(prefix="isodemo-bench-pycache-")
    PYTHON_ENV["PYTHONPYCACHEPREFIX"] = pycache
    # isodemo's images go to a store of this script's, not the machine's /var/lib/isodemo (the directory
    # must be traversable by every user: 0711, as isodemo makes its own store)
    store = tempfile.mkdtemp(prefix="isodemo-bench-store-", dir="/var/tmp")
    os.chmod(store, 0o711)
    PYTHON_ENV["ISODEMO_STORE"] = NO_CACHE_ENV["ISODEMO_STORE"] = store
    ab = [(label, os.path.abspath(src)) for label, src in (("before", args.before), ("after", args.after)) if src]
    for _, src in ab:
        if not os.path.isfile(os.path.join(src, "isodemo", "__init__.py")):
            sys.exit(f"{src} holds no isodemo package")
    bindir = tempfile.mkdtemp(prefix="isodemo-bench-bin-")
    launchers = {label: write_launcher(bindir, label, python, src) for label, src in ab}
    if ab:
        ISODEMO[:] = [launchers["after"]]
        PYTHON_ENV["PYTHONPATH"] = NO_CACHE_ENV["PYTHONPATH"] = ab[1][1]
    else:
        tree = os.path.dirname(os.path.dirname(os.path.abspath(launcher.__file__)))
        ISODEMO[:] = [write_launcher(bindir, "isodemo", python, tree)]
        PYTHON_ENV["PYTHONPATH"] = NO_CACHE_ENV["PYTHONPATH"] = tree  # the console-script row's and the probe's
    modules = run_modules(python)

    with runcref.Reference(["/bin/true"]) as ref:

        def runc_alone() -> float:
            result = ref.run()
            if result.code != 0:
                raise Failed(f"exit {result.code}: {_last_line(result.stderr)}")
            return result.seconds

        def runc_whole() -> float:
            start = time.perf_counter()
            result = ref.run()
            if result.code != 0:
                raise Failed(f"exit {result.code}: {_last_line(result.stderr)}")
            return time.perf_counter() - start

        def runc_lean() -> float:
            start = time.perf_counter()
            result = ref.run(lean=True)
            if result.code != 0:
                raise Failed(f"exit {result.code}: {_last_line(result.stderr)}")
            return time.perf_counter() - start

        unshare = ["unshare", "--fork", *NAMESPACES, "--mount-proc", "chroot", ref.lower, "/bin/true"]
        isodemo_true = [*ISODEMO, "run", "busybox", "/bin/true"]
        rows = [
            Contender(f"{python} -c pass", lambda: timed([python, "-c", "pass"])),
            *[
                Contender(
                    f"isodemo run busybox /bin/true ({label}: {src})",
                    lambda label=label: timed(
                        [launchers[label], "run", "busybox", "/bin/true"], launcher_env(PYTHON_ENV)
                    ),
                )
                for label, src in ab
            ],
            Contender(f"{python} -S -c pass", lambda: timed([python, "-S", "-c", "pass"])),
            Contender(
                f"{python} -c 'import' the {len(modules)} isodemo modules of a run",
                lambda: timed([python, "-c", "import " + ", ".join(modules)]),
            ),
            *(
                []
                if ab
                else [
                    Contender(
                        "isodemo run busybox /bin/true (the installed command: -S, no site)",
                        lambda: timed(isodemo_true, launcher_env(PYTHON_ENV)),
                    ),
                    Contender(
                        "isodemo run busybox /bin/true as pip's console script (with site)",
                        lambda: timed([python, "-c", CONSOLE_SCRIPT, "run", "busybox", "/bin/true"]),
                    ),
                    Contender(
                        "isodemo run busybox /bin/true, PYTHONDONTWRITEBYTECODE=1 (no bytecode cache)",
                        lambda: timed(isodemo_true, launcher_env(NO_CACHE_ENV)),
                    ),
                ]
            ),
            Contender("isodemo run --json busybox /bin/true", stages),
            Contender("runc run (overlay mounted, config.json written)", runc_alone),
            Contender("runc: mount overlay + config + run + delete + umount", runc_whole),
            Contender("runc: mount(2) overlay + config + run + umount2(2) (the least a caller does)", runc_lean),
            Contender("unshare --fork (6 namespaces) --mount-proc chroot ROOT true", lambda: timed(unshare)),
        ]
        if docker is None:
            docker_run = ["docker", "run", "--rm", "--network", "none", "busybox", "/bin/true"]
            rows.append(Contender("docker run --rm busybox /bin/true", lambda: timed(docker_run)))
        for row in rows:  # warm-up: isodemo builds its busybox image once; a contender that fails is dropped
            row.run(record=False)
        stages.reports.clear()
        stages.walls.clear()
        for number in range(args.rounds):
            for row in rows if number % 2 == 0 else reversed(rows):
                row.run()

    print(f"{args.rounds} rounds, order alternating; Python {sys.version.split()[0]}, kernel {os.uname().release},")
    print(f"{runcref.runc_version()}, cgroup {'v2' if runcref.cgroup_v2() else 'v1/hybrid'}, {os.cpu_count()} CPUs")
    print()
    print("\n".join(table(rows, docker)))
    print()
    print("\n".join(stage_table(stages)))
    shutil.rmtree(pycache)
    shutil.rmtree(store)
    shutil.rmtree(bindir)
    if os.path.exists(ref.tmp):
        sys.exit(f"left behind: {ref.tmp}")


if __name__ == "__main__":
    main()
