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


def _int_in(value: str, low: int, high: int, what: str) -> int:
    from isodemo.errors import UsageError
    from isodemo.i18n import _

    text = value  # as typed: " 3" is refused rather than read as something else than shown (see _unpadded)
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or not low <= int(text) <= high:
        raise UsageError(
            _("{what}: {value} is not a whole number from {low} to {high}", what=what, value=value, low=low, high=high)
        )
    return int(text)


def replicas(value: str) -> int:
    """A Deployment's replicas for the control-loop demos: 1 to 10 (each pod is a container here)."""
    return _int_in(value, 1, 10, "--replicas")


def service_replicas(value: str) -> int:
    """`isodemo service --replicas`: 2 to 10 (one pod is killed while the others keep answering)."""
    return _int_in(value, 2, 10, "--replicas")


def request_count(value: str) -> int:
    """How many requests the client sends: 30 (enough for the chi-square test) to 5000."""
    return _int_in(value, 30, 5000, "--requests")


def max_replicas(value: str) -> int:
    """The HorizontalPodAutoscaler's maxReplicas for `isodemo autoscale`: 2 to 10 (minReplicas is 1)."""
    return _int_in(value, 2, 10, "--max-replicas")


def speed(value: str) -> float:
    """--speed: how many times faster than Kubernetes' real periods the demo runs, 1 to 100."""
    from isodemo.errors import UsageError
    from isodemo.i18n import _

    try:
        # float() takes other scripts' digits ("١٢" is 12.0), spaces around, "nan" and "1e1": only plain decimals
        plain = value.isascii() and value.replace(".", "", 1).isdigit() and len(value) <= 12
        number = float(value) if plain else 0.0
    except ValueError:
        number = 0.0
    if not 1 <= number <= 100:
        raise UsageError(_("--speed: {value} is not a number from 1 to 100", value=value))
    return number
