"""The committed gRPC stubs are exactly what hack/gen-grpc.sh generates from the committed proto."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_generated_stubs_are_fresh(project_root: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH="", PYTHON=sys.executable)
    outs = {"servers/grpc/generated": tmp_path / "v2", "zeroserve/protos": tmp_path / "seldon"}
    script = str(project_root / "hack" / "gen-grpc.sh")
    subprocess.run(["bash", script, *map(str, outs.values())], check=True, env=env)
    for folder, out in outs.items():
        fresh = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
        current = {p.name: p.read_bytes() for p in (project_root / folder).iterdir() if p.is_file()}
        assert sorted(fresh) == sorted(current), f"{folder}: generated file set differs: run hack/gen-grpc.sh"
        stale = [name for name in fresh if fresh[name] != current[name]]
        assert not stale, f"{folder}: stale generated gRPC stubs {stale}: run hack/gen-grpc.sh"


def test_proto_copy_is_the_reference_proto_plus_repository_rpcs(
    project_root: Path, shared_specs: Path
) -> None:
    ours = (project_root / "servers" / "grpc" / "grpc_predict_v2.proto").read_text()
    reference = (shared_specs / "kserve" / "grpc_predict_v2.proto").read_text()
    for message_start in [line for line in reference.splitlines() if line.startswith("message ")]:
        assert message_start in ours
    assert "rpc RepositoryModelLoad(RepositoryModelLoadRequest)" in ours
    assert "rpc RepositoryModelUnload(RepositoryModelUnloadRequest)" in ours


def test_stubs_load_next_to_tritonclient() -> None:
    """Our stubs use a private descriptor pool, so both sets of ``inference.*`` messages coexist."""
    code = (
        "from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2 as ours\n"
        "import tritonclient.grpc as t\n"
        "from tritonclient.grpc import service_pb2 as theirs\n"
        "m = ours.ModelInferRequest(model_name='m')\n"
        "assert theirs.ModelInferRequest.FromString(m.SerializeToString()).model_name == 'm'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
