"""Pod manifests for `isodemo limits`: read like the API server reads them; bad ones exit 2 naming the field."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from isodemo.errors import UsageError
from isodemo.kube import manifest

GOOD = """
apiVersion: v1
kind: Pod
metadata: {name: shop}
spec:
  containers:
  - name: web
    image: busybox
    resources:
      requests: {cpu: 250m, memory: 64Mi}
      limits: {cpu: 1, memory: 128Mi}
  - name: side
    resources:
      limits: {cpu: "0.5", memory: 1e8}
"""


def test_a_pod_is_read(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(GOOD)
    pod = manifest.load(str(path))
    assert pod.name == "shop"
    web, side = pod.containers
    assert web.requests == {"cpu": 250, "memory": 64 << 20}
    assert web.limits == {"cpu": 1000, "memory": 128 << 20}
    assert side.requests == side.limits == {"cpu": 500, "memory": 10**8}  # requests default to limits


def test_json_is_read(tmp_path: Path) -> None:
    path = tmp_path / "pod.json"
    document = {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "a"}]}}
    path.write_text(json.dumps(document))
    assert manifest.load(str(path)).containers[0].name == "a"


BAD = [
    ("kind: Service\nspec: {}", "kind: Service is not Pod"),
    ("kind: Pod\nspec: {containers: []}", "spec.containers: a list of containers is required"),
    (
        "kind: Pod\nspec:\n  containers:\n  - name: a\n  - name: b\n    resources: {limits: {cpu: 12XB}}",
        r"spec.containers\[1\].resources.limits.cpu: 12XB is not a quantity",
    ),
    (
        "kind: Pod\nspec:\n  containers:\n  - name: a\n    resources: {requests: {memory: -1}}",
        r"spec.containers\[0\].resources.requests.memory: -1 is negative",
    ),
    (
        "kind: Pod\nspec:\n  containers:\n  - name: a\n    resources: {requests: {cpu: 2}, limits: {cpu: 1}}",
        r"spec.containers\[0\].resources.requests.cpu: 2 must be less than or equal to the cpu limit 1",
    ),
    ("kind: Pod\nspec:\n  containers:\n  - name: A_b", r"spec.containers\[0\].name: A_b is not a DNS label"),
    ("kind: Pod\nspec:\n  containers:\n  - name: a\n  - name: a", "the name a is used twice"),
    ("kind: Pod\nspec: [1", "not YAML or JSON"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_manifests_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        manifest.load(str(path))


@pytest.mark.parametrize(("text", "message"), [BAD[2], BAD[3]])
def test_the_command_exits_2_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "isodemo", "limits", "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    assert re.search(message, result.stderr), result.stderr


@pytest.mark.parametrize(("option", "value"), [("--api-cpu", "12XB"), ("--api-memory", "-1"), ("--batch-cpu", "0")])
def test_bad_options_exit_2(option: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "isodemo", "limits", option, value], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    assert option in result.stderr
