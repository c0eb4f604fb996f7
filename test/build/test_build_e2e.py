"""Acceptance: a Seldon model folder -> ``zeroserve build`` -> a SeldonDeployment naming the image
(and a kserve model module -> an InferenceService with that custom container), applied with real
kubectl to an in-thread platform, Available and predicting, its dependency imported from its own
environment; a second build with unchanged requirements reuses that environment.

The dependency is made here, offline: a tiny pure-Python distribution zipped into a wheel (code,
METADATA, WHEEL, RECORD) that ``requirements.txt`` finds with ``--no-index --find-links``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
import yaml
from support.platform import in_thread_platform
from support.waiting import wait_until_async

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

IMAGE = "example.com/me/tiny-model:0.1"
KSERVE_IMAGE = "example.com/me/tiny-kserve:0.1"
KSERVE_MODEL = """import kserve
import tinydep


class Tiny(kserve.Model):
    def __init__(self, name):
        super().__init__(name)
        self.ready = True

    def predict(self, payload, headers=None):
        return {"predictions": [tinydep.__version__, tinydep.__file__]}


if __name__ == "__main__":
    kserve.ModelServer().start([Tiny("tiny-kserve")])
"""
MODEL = """import tinydep


class Model:
    def predict(self, X, features_names=None):
        return [[v * 2 for v in row] for row in X]

    def tags(self):
        return {"tinydep_file": tinydep.__file__, "tinydep_version": tinydep.__version__}
"""


def build_wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` into ``folder`` (its ``__version__`` is ``version``)."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: zeroserve-test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }

    def digest(data: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join(f"{path},{digest(data)},{len(data)}\n" for path, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def zeroserve_build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zeroserve", "build", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def manifests(name: str) -> str:
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "tiny-kserve"},
        "spec": {"predictor": {"containers": [{"name": "kserve-container", "image": KSERVE_IMAGE}]}},
    }
    return (
        yaml.safe_dump(isvc)
        + "---\n"
        + yaml.safe_dump(
            {
                "apiVersion": "machinelearning.seldon.io/v1",
                "kind": "SeldonDeployment",
                "metadata": {"name": name},
                "spec": {
                    "predictors": [
                        {
                            "name": "default",
                            "componentSpecs": [{"spec": {"containers": [{"name": "tiny", "image": IMAGE}]}}],
                            "graph": {"name": "tiny", "type": "MODEL"},
                        }
                    ]
                },
            }
        )
    )


def _folder(folder: Path, module: str, text: str, environment: str = "") -> Path:
    folder.mkdir()
    (folder / module).write_text(text)
    build_wheel(folder / "wheels")
    (folder / "requirements.txt").write_text("--no-index\n--find-links wheels\ntinydep==1.0\n")
    if environment:
        (folder / ".s2i").mkdir()
        (folder / ".s2i" / "environment").write_text(environment)
    return folder


async def test_built_folder_runs_on_the_platform_with_its_own_environment(tmp_path: Path) -> None:
    s2i = "MODEL_NAME=Model\nSERVICE_TYPE=MODEL\nPERSISTENCE=0\n"
    folder = await asyncio.to_thread(_folder, tmp_path / "tiny-model", "Model.py", MODEL, s2i)
    kserve_folder = await asyncio.to_thread(_folder, tmp_path / "tiny-kserve", "model.py", KSERVE_MODEL)
    state = tmp_path / "platform" / "state"

    first = await asyncio.to_thread(
        zeroserve_build, str(folder), "-t", IMAGE, "--builder", "none", "--state-dir", str(state)
    )
    assert first.returncode == 0, first.stderr + first.stdout
    assert (
        "creating" in first.stdout
        and f"registered {IMAGE}" in first.stdout
        and "no image built" in first.stdout
    )
    assert (state / "build" / "contexts").is_dir()
    other = zeroserve_build(
        str(kserve_folder), "-t", KSERVE_IMAGE, "--builder", "none", "--state-dir", str(state)
    )
    assert other.returncode == 0 and "kserve model.py" in other.stdout, other.stderr
    assert "reused (requirements unchanged)" in other.stdout  # the same requirements: the same environment

    async with in_thread_platform(tmp_path / "platform", ready_timeout=60.0) as (ctx, kubectl):
        await asyncio.to_thread(kubectl, "apply", "-f", "-", input=manifests("tiny"))

        async def available() -> bool:
            found = await asyncio.to_thread(kubectl.json, "get", "sdep", "tiny")
            isvc = await asyncio.to_thread(kubectl.json, "get", "isvc", "tiny-kserve")
            conditions = (isvc.get("status") or {}).get("conditions") or []
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            return ready and (found.get("status") or {}).get("state") == "Available"

        await wait_until_async(
            available, 90, what="the SeldonDeployment to be Available", interval=0.3, retry_on=()
        )
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=30, trust_env=False) as client:
            reply = await client.post(
                "/seldon/default/tiny/api/v1.0/predictions", json={"data": {"ndarray": [[1, 2]]}}
            )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["data"]["ndarray"] == [[2, 4]]
        tags = body["meta"]["tags"]
        assert tags["tinydep_version"] == "1.0"
        assert Path(tags["tinydep_file"]).is_relative_to(state / "build" / "envs"), tags
        with pytest.raises(ImportError):  # zeroserve's own environment does not have it
            __import__("tinydep")

    second = await asyncio.to_thread(
        zeroserve_build, str(folder), "-t", IMAGE, "--builder", "none", "--state-dir", str(state)
    )
    assert second.returncode == 0, second.stderr
    assert "reused (requirements unchanged)" in second.stdout and "creating" not in second.stdout


def test_a_requirement_that_cannot_install_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "Model.py").write_text("class Model:\n    pass\n")
    (folder / "requirements.txt").write_text(
        "--no-index\n# none of these exist\nnot-a-real-package-zs==9.9\n"
    )
    done = zeroserve_build(
        str(folder), "-t", "x/broken", "--builder", "none", "--state-dir", str(tmp_path / "s")
    )
    assert done.returncode == 1
    line = done.stderr.strip()
    assert "\n" not in line, done.stderr
    assert "requirements.txt:3: cannot install 'not-a-real-package-zs==9.9'" in line, line
    assert not list((tmp_path / "s" / "build" / "envs").iterdir())  # no half-built environment left
