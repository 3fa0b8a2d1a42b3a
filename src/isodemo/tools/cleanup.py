"""`isodemo cleanup [--dry-run]`: remove what runs killed with SIGKILL left behind.

An object belongs to a run through the `isodemo-<id>` in its name. Runs whose owner process is still alive
(a `--hold` in another terminal) are left alone.
"""

from __future__ import annotations

from typing import Any

from isodemo import leftovers, runs
from isodemo.errors import IsodemoError
from isodemo.narrate.base import Narrator


def run(narrator: Narrator, ctx: Any) -> None:
    dry_run = bool(ctx.options.get("dry_run"))
    live = runs.live_runs() - {ctx.run.id}
    found = [item for item in leftovers.find() if item.run_id != ctx.run.id]
    stale = [item for item in found if item.run_id not in live]
    skipped = sorted({item.run_id for item in found if item.run_id in live})
    narrator.step(
        "Leftovers of isodemo runs that are no longer running",
        shell=["ps -eo pid,comm | grep isodemo-", "ls -d /tmp/isodemo-*", "ipcs -q"],
    )
    for run_id in skipped:
        narrator.note(f"skipping run {run_id}: its isodemo process is still running")
    if not stale:
        narrator.note("nothing to clean up")
    removed, failed = [], []
    for item in stale:
        if dry_run:
            narrator.note(f"would remove {item}")
            continue
        try:
            item.remove()
        except (OSError, IsodemoError) as error:
            failed.append(f"{item}: {error}")
            narrator.status(str(item), False, str(error))
        else:
            removed.append(str(item))
            narrator.status(str(item), True, "removed")
    narrator.fact("found", [str(item) for item in stale], show=False)
    narrator.fact("removed", removed, show=False)
    narrator.fact("skipped_live_runs", skipped, show=False)
    if failed:
        raise IsodemoError(f"could not remove {len(failed)} object(s)", "; ".join(failed))
