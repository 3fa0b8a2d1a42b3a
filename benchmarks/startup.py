"""How long `isodemo --help` and other whole commands take, against `python3 -c pass`.

    python benchmarks/startup.py [--runs 30] [--demos]

Each command runs as its own process, `--runs` times after one warm-up; the median is quoted, with the
min and max to show how noisy the machine was. `--demos` (root) also times each demo end to end, next to
`unshare` doing the same namespaces from C. Results of earlier runs: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

ISODEMO = [sys.executable, "-m", "isodemo"]
script = shutil.which("isodemo")
if script:
    ISODEMO = [script]


def measure(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return times


def row(label: str, times: list[float], baseline: float | None = None) -> str:
    median = statistics.median(times)
    ratio = f"{median / baseline:5.1f}x" if baseline else "     "
    return f"| {label:<52} | {median * 1000:7.1f} | {min(times) * 1000:7.1f} | {max(times) * 1000:7.1f} | {ratio} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--demos", action="store_true", help="also time the demos (needs root)")
    args = parser.parse_args()
    python = sys.executable  # the interpreter isodemo runs on (a pyenv shim would add ~100 ms)
    base = measure([python, "-c", "pass"], args.runs)
    baseline = statistics.median(base)
    lines = [
        "| command | median ms | min ms | max ms | / python3 -c pass |",
        "|---|---|---|---|---|",
        row(f"{python} -c pass", base),
    ]
    lines.append(row("isodemo --help", measure([*ISODEMO, "--help"], args.runs), baseline))
    lines.append(row("isodemo list --plain", measure([*ISODEMO, "list", "--plain"], args.runs), baseline))
    lines.append(row("python3 -c 'import click'", measure([python, "-c", "import click"], args.runs), baseline))
    if args.demos and os.geteuid() == 0:
        runs = max(3, args.runs // 5)
        unshare = ["unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--mount-proc", "/bin/true"]
        lines.append(
            row("unshare --fork --pid --mount --uts --ipc --mount-proc true", measure(unshare, runs), baseline)
        )
        for demo in ("pid", "uts", "ipc", "mnt"):
            lines.append(row(f"isodemo {demo} --json", measure([*ISODEMO, demo, "--json"], runs), baseline))
    print(f"{args.runs} runs each (demos: fewer), Python {sys.version.split()[0]}, {os.uname().release}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
