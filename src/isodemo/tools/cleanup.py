"""`isodemo cleanup [--dry-run]`: remove what runs killed with SIGKILL left behind.

An object belongs to a run through the `isodemo-<id>` in its name. Runs whose owner process is still alive
(a `--hold` in another terminal) are left alone; an owner killed but not yet reaped (a zombie: same pid, same
start time) is not alive (runs.owner_alive).
"""

from __future__ import annotations

from isodemo import leftovers, runs
from isodemo.context import DemoContext
from isodemo.errors import IsodemoError
from isodemo.i18n import _, ngettext
from isodemo.narrate.base import Narrator


def run(narrator: Narrator, ctx: DemoContext) -> None:
    dry_run = bool(ctx.options.get("dry_run"))
    # Find first, then ask which runs are alive: a run that starts in between is alive, not stale.
    found = [item for item in leftovers.find() if item.run_id != ctx.run.id]
    recorded = runs.recorded_runs()
    live = runs.live_runs()
    vouched = [
        item
        for item in found
        if item.proven_stale or (item.run_id in recorded and _vouches(recorded[item.run_id], item))
    ]
    stale = [item for item in vouched if item.run_id not in live]
    skipped = sorted({item.run_id for item in vouched if item.run_id in live})
    unrecorded = [item for item in found if item not in vouched]
    narrator.step(
        _("Leftovers of isodemo runs that are no longer running"),
        shell=["ps -eo pid,comm | grep isodemo-", "ls -d /tmp/isodemo-*", "ipcs -q"],
    )
    for run_id in skipped:
        narrator.note(_("skipping run {run}: its isodemo process is still running", run=run_id))
    for item in unrecorded:
        narrator.note(
            _(
                "left alone: {name} (named like isodemo's, but no run record vouches that isodemo made it)",
                name=item.label,
            )
        )
    if not stale:
        narrator.note(_("nothing to clean up"))
    removed, failed = [], []
    for item in stale:
        if dry_run:
            narrator.note(_("would remove {item}", item=item.label))
            continue
        try:
            item.remove()
        except (FileNotFoundError, ProcessLookupError):  # gone by itself meanwhile: removed all the same
            pass
        except leftovers.RecordKept as kept:  # its run left more than this cleanup saw: the next one goes on
            narrator.note(str(kept))
            continue
        except (OSError, IsodemoError) as error:
            failed.append(f"{item}: {error}")
            narrator.status(item.label, False, str(error))
            continue
        removed.append(str(item))
        narrator.status(item.label, True, _("removed"))
    if not dry_run and stale:
        from isodemo.net import netns

        if netns.remove_dir_if_ours():
            narrator.status(netns.NETNS_DIR, True, _("removed (isodemo had made it, and it is empty now)"))
    narrator.fact("found", [str(item) for item in stale], show=False)
    narrator.fact("removed", removed, show=False)
    narrator.fact("skipped_live_runs", skipped, show=False)
    narrator.fact("unrecorded", [str(item) for item in unrecorded], show=False)
    if failed:
        raise IsodemoError(
            ngettext("could not remove {n} object", "could not remove {n} objects", len(failed)), "; ".join(failed)
        )


def _vouches(record: runs.Record, item: leftovers.Leftover) -> bool:
    """Root's records vouch for every object of their run; a user's (rootless) record only for objects that
    user owns: a user decides what its record says, and it must not make root remove others' objects."""
    return record.owner in (0, item.owner)
