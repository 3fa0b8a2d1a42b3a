"""The `isodemo limits` options, checked when the command line is read (click callbacks call these): a
Pod manifest file, or quantities for the default Pod. Each raises UsageError (exit 2) naming the field."""

from __future__ import annotations

from isodemo.kube import manifest, quantity


def pod_file(value: str) -> manifest.Pod:
    return manifest.load(value)


def _unpadded(value: str, field: str) -> str:
    """A manifest's quantity may come with spaces around it (the API server trims them); an option's value is
    taken as typed, so `--api-cpu "1 "` is refused rather than read as something else than shown."""
    if value != value.strip():
        quantity.parse("", field)  # raises: the same message as for any text that is not a quantity
    return value


def cpu_quantity(value: str) -> str:
    """A cpu quantity for the default Pod (500m, 0.5, 1): more than 0, at most this machine's CPUs."""
    import os

    from isodemo.errors import UsageError
    from isodemo.i18n import _

    milli = quantity.millicores(_unpadded(value, "cpu"), "cpu")
    cpus = len(os.sched_getaffinity(0))
    if not 10 <= milli <= 1000 * cpus:
        raise UsageError(
            _("cpu: {value} is out of range", value=value),
            _("from 10m to {cpus} (the CPUs here)", cpus=cpus),
        )
    return value


def memory_quantity(value: str) -> str:
    """A memory quantity for the default Pod (64Mi, 100M): from 8Mi to 1Gi."""
    from isodemo.errors import UsageError
    from isodemo.i18n import _

    size = quantity.bytes_(_unpadded(value, "memory"), "memory")
    if not 8 << 20 <= size <= 1 << 30:
        raise UsageError(_("memory: {value} is out of range", value=value), _("from 8Mi to 1Gi"))
    return value
