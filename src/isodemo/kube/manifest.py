"""A Kubernetes Pod manifest (YAML or JSON) read into the resources that matter here: the containers'
requests and limits of cpu and memory, with the API server's defaulting (a missing request is the limit).

YAML is read with PyYAML's safe loader, imported only when a file is given. Every problem is a UsageError
(exit 2) that names the field as kubectl does: `spec.containers[1].resources.limits.cpu: 12XB is not a
quantity`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from isodemo.errors import UsageError
from isodemo.i18n import _
from isodemo.kube import quantity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_CONTAINERS = 8  # enough for a lesson; each one is a process and cgroups on this machine
MAX_FILE_BYTES = 1 << 20
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
RESOURCES = ("cpu", "memory")


class ManifestError(UsageError):
    """A manifest that is not a Pod isodemo can read: the message names the field."""


@dataclass
class Container:
    name: str
    requests: dict[str, int] = field(default_factory=dict)  # cpu in millicores, memory in bytes
    limits: dict[str, int] = field(default_factory=dict)
    given: dict[str, str] = field(default_factory=dict)  # "requests.cpu" -> the text as written

    def quantity_text(self, kind: str, resource: str) -> str:
        return self.given.get(f"{kind}.{resource}", "")


@dataclass
class Pod:
    name: str
    uid: str
    containers: list[Container]
    init_containers: list[Container] = field(default_factory=list)


def container(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> Container:
    """A container from quantities as text (the demo's default pod, the command-line options)."""
    return _container({"name": name, "resources": {"requests": requests or {}, "limits": limits or {}}}, name)


def load(path: str) -> Pod:
    """Read a Pod manifest file: JSON, or YAML (JSON is YAML too, but a JSON error reads better as JSON)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ManifestError(_("{path}: {reason}", path=path, reason=error.strerror or str(error))) from None
    except ValueError:  # a NUL byte: no path can hold one (open(2) takes a C string)
        raise ManifestError(_("{path}: not a file name (it holds a NUL byte)", path=repr(path))) from None
    if len(data) > MAX_FILE_BYTES:
        raise ManifestError(_("{path}: larger than 1 MiB, not a Pod manifest", path=path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(_("{path}: not UTF-8 text", path=path)) from None
    return parse(_documents(text, path), path)


def _documents(text: str, path: str) -> Any:
    import yaml

    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f":{where.line + 1}" if where is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ManifestError(
            _("{path}{line}: not YAML or JSON: {problem}", path=path, line=line, problem=problem)
        ) from None
    if len(documents) != 1:
        raise ManifestError(
            _("{path}: {n} documents; give exactly one Pod", path=path, n=len(documents)),
            _("a file with several objects (separated by ---) is for kubectl apply; put the Pod alone in a file"),
        )
    return documents[0]


def parse(document: Any, source: str = "") -> Pod:
    """A Pod from the decoded manifest (dicts and lists, as YAML or JSON give them)."""
    _require_mapping(document, source or _("the manifest"))
    kind = document.get("kind")
    if kind != "Pod":
        raise ManifestError(
            _("kind: {kind} is not Pod", kind=kind if kind is not None else _("(missing)")),
            _("isodemo limits reads one Pod (apiVersion: v1, kind: Pod)"),
        )
    if document.get("apiVersion", "v1") != "v1":
        raise ManifestError(_("apiVersion: {version} is not v1", version=document.get("apiVersion")))
    metadata = document.get("metadata") or {}
    _require_mapping(metadata, "metadata")
    name = metadata.get("name") or "pod"
    if not isinstance(name, str) or not DNS_LABEL.fullmatch(name):
        raise ManifestError(_("metadata.name: {name} is not a DNS label (a-z, 0-9, '-')", name=name))
    spec = document.get("spec")
    _require_mapping(spec, "spec")
    if spec.get("resources"):
        raise ManifestError(
            _("spec.resources: pod-level resources are not supported by isodemo limits"),
            _("give requests and limits on each container (spec.containers[*].resources)"),
        )
    containers = _containers(spec, "containers", required=True)
    init = _containers(spec, "initContainers", required=False)
    names = [c.name for c in [*init, *containers]]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ManifestError(_("spec.containers: the name {name} is used twice", name=duplicate))
    return Pod(name, str(uuid.uuid4()), containers, init)


def _containers(spec: dict[str, Any], key: str, *, required: bool) -> list[Container]:
    items = spec.get(key)
    if items is None and not required:
        return []
    if not isinstance(items, list) or (required and not items):
        raise ManifestError(_("spec.{key}: a list of containers is required", key=key))
    if len(items) > MAX_CONTAINERS:
        raise ManifestError(
            _(
                "spec.{key}: {n} containers; isodemo limits takes at most {max}",
                key=key,
                n=len(items),
                max=MAX_CONTAINERS,
            )
        )
    return [_container(item, f"spec.{key}[{index}]") for index, item in enumerate(items)]


def _container(item: Any, where: str) -> Container:
    _require_mapping(item, where)
    name = item.get("name")
    if not isinstance(name, str) or not DNS_LABEL.fullmatch(name):
        raise ManifestError(_("{where}.name: {name} is not a DNS label (a-z, 0-9, '-')", where=where, name=name))
    resources = item.get("resources") or {}
    _require_mapping(resources, f"{where}.resources")
    result = Container(name)
    for kind in ("requests", "limits"):
        values = resources.get(kind) or {}
        _require_mapping(values, f"{where}.resources.{kind}")
        target = result.requests if kind == "requests" else result.limits
        for resource in RESOURCES:
            if resource not in values:
                continue
            field_name = f"{where}.resources.{kind}.{resource}"
            raw = values[resource]
            target[resource] = (
                quantity.millicores(raw, field_name) if resource == "cpu" else quantity.bytes_(raw, field_name)
            )
            result.given[f"{kind}.{resource}"] = quantity._text(raw)
    for resource in RESOURCES:
        if resource in result.limits and resource not in result.requests:  # API defaulting
            result.requests[resource] = result.limits[resource]
            result.given[f"requests.{resource}"] = result.given[f"limits.{resource}"]
        if resource in result.limits and result.requests[resource] > result.limits[resource]:
            raise ManifestError(
                _(
                    "{where}.resources.requests.{resource}: {request} must be less than or equal to the "
                    "{resource} limit {limit}",
                    where=where,
                    resource=resource,
                    request=result.given[f"requests.{resource}"],
                    limit=result.given[f"limits.{resource}"],
                )
            )
    return result


def _require_mapping(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ManifestError(_("{where}: a mapping (key: value) is required", where=where))
