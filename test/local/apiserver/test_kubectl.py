"""Real kubectl against the API server: apply, get (KServe's columns), describe, patch, watch, delete."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from support.waiting import wait_until

from zeroserve.local.testing import Kubectl

from .conftest import Cluster

# the real kubectl binary, a process per command, against the platform's API server
pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[3] / "config" / "samples"
ISVC = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: {uri}
"""


def test_apply_multi_document_samples_and_get_shows_kserve_columns(cluster: Cluster, tmp_path: Path) -> None:
    docs = [
        SAMPLES / "isvc" / "sklearn-v1.yaml",
        SAMPLES / "isvc" / "canary.yaml",
        SAMPLES / "ig" / "sequence.yaml",
    ]
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text("\n---\n".join(path.read_text() for path in docs))

    out = cluster.kubectl("apply", "-f", str(bundle)).stdout

    assert "inferenceservice.serving.kserve.io/sklearn-iris created" in out
    assert "inferenceservice.serving.kserve.io/sklearn-canary created" in out
    assert "inferencegraph.serving.kserve.io/model-chainer created" in out
    table = cluster.kubectl("get", "isvc").stdout.splitlines()
    assert table[0].split() == [
        "NAME", "URL", "READY", "PREV", "LATEST", "PREVROLLEDOUTREVISION", "LATESTREADYREVISION", "AGE"
    ]  # fmt: skip
    assert {line.split()[0] for line in table[1:]} >= {"sklearn-iris", "sklearn-canary"}
    assert cluster.kubectl("get", "ig").stdout.split()[:4] == ["NAME", "URL", "READY", "AGE"]
    again = cluster.kubectl("apply", "-f", str(bundle)).stdout
    stored = cluster.kubectl.json("get", "isvc", "sklearn-iris")
    # KServe's mutating webhook stores sklearn: as model:, so kubectl's three-way merge sends sklearn:
    # again on every apply ("configured", as on a cluster with KServe); the result is the same object
    assert "inferenceservice.serving.kserve.io/sklearn-canary unchanged" in again
    assert "sklearn" not in stored["spec"]["predictor"]
    assert stored["spec"]["predictor"]["model"]["modelFormat"] == {"name": "sklearn"}
    assert stored["metadata"]["generation"] == 1


def test_get_yaml_and_describe(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=ISVC.format(name="describe-me", uri="gs://bucket/model"))

    obj = yaml.safe_load(cluster.kubectl("get", "isvc", "describe-me", "-o", "yaml").stdout)
    described = cluster.kubectl("describe", "isvc", "describe-me").stdout

    assert obj["metadata"]["generation"] == 1
    assert obj["metadata"]["uid"] and int(obj["metadata"]["resourceVersion"]) > 0
    assert obj["spec"]["predictor"]["model"]["storageUri"] == "gs://bucket/model"
    assert "Name:         describe-me" in described
    assert "Kind:         InferenceService" in described
    assert "Events:" in described


def test_patch_and_second_apply_update_and_bump_generation(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=ISVC.format(name="rollout", uri="gs://bucket/v1"))

    cluster.kubectl(
        "patch",
        "isvc",
        "rollout",
        "--type",
        "merge",
        "-p",
        '{"spec":{"predictor":{"canaryTrafficPercent":20}}}',
    )
    patched = cluster.kubectl.json("get", "isvc", "rollout")
    out = cluster.kubectl("apply", "-f", "-", input=ISVC.format(name="rollout", uri="gs://bucket/v2")).stdout
    applied = cluster.kubectl.json("get", "isvc", "rollout")

    assert patched["spec"]["predictor"]["canaryTrafficPercent"] == 20
    assert patched["metadata"]["generation"] == 2
    assert "configured" in out
    assert applied["spec"]["predictor"]["model"]["storageUri"] == "gs://bucket/v2"
    assert applied["spec"]["predictor"]["canaryTrafficPercent"] == 20, "apply keeps fields it never set"
    assert applied["metadata"]["generation"] == 3


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"predictor": {"minReplicas": "two", "model": {"modelFormat": {"name": "sklearn"}}}},
            'spec.predictor.minReplicas: Invalid value: "string": '
            'spec.predictor.minReplicas in body must be of type integer: "string"',
        ),
        (
            {"predictor": {"model": {"modelFormat": {"name": "sklearn"}}}, "bogus": 1},
            'strict decoding error: unknown field "spec.bogus"',
        ),
        (
            {"predictor": {"scaleMetric": "gpu", "model": {"modelFormat": {"name": "sklearn"}}}},
            'spec.predictor.scaleMetric: Unsupported value: "gpu": '
            'supported values: "cpu", "memory", "concurrency", "rps"',
        ),
        (
            {"predictor": {"model": {"modelFormat": {}}}},
            "spec.predictor.model.modelFormat.name: Required value",
        ),
    ],
    ids=["wrong-type", "unknown-field", "bad-enum", "missing-required"],
)
def test_invalid_objects_are_refused_with_the_field_path(cluster: Cluster, spec: dict, expected: str) -> None:
    manifest = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "invalid"},
        "spec": spec,
    }

    result = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest), check=False)

    assert result.returncode == 1
    assert expected in result.stderr
    assert result.stderr.startswith(
        ("Error from server (BadRequest)", 'The InferenceService "invalid" is invalid')
    )
    missing = cluster.kubectl("get", "isvc", "invalid", check=False)
    assert 'inferenceservices.serving.kserve.io "invalid" not found' in missing.stderr


def test_get_watch_streams_a_change(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=ISVC.format(name="watched", uri="gs://bucket/w"))
    with cluster.kubectl.popen("get", "isvc", "watched", "-w", "--request-timeout=30s") as watch:
        try:
            assert watch.stdout is not None
            header = watch.stdout.readline()
            first = watch.stdout.readline()
            status = {
                "status": {
                    "url": "http://watched.default.example.com",
                    "conditions": [{"type": "Ready", "status": "True"}],
                }
            }
            cluster.kubectl(
                "patch",
                "isvc",
                "watched",
                "--subresource",
                "status",
                "--type",
                "merge",
                "-p",
                json.dumps(status),
            )
            changed = watch.stdout.readline()
        finally:
            watch.kill()
    assert header.split()[:3] == ["NAME", "URL", "READY"]
    assert first.split()[0] == "watched"
    assert changed.split()[:3] == ["watched", "http://watched.default.example.com", "True"]


def test_delete_cascades_to_owned_knative_services(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=ISVC.format(name="owner", uri="gs://bucket/o"))
    uid = cluster.kubectl.json("get", "isvc", "owner")["metadata"]["uid"]
    ksvc = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": "owner-predictor",
            "ownerReferences": [
                {
                    "apiVersion": "serving.kserve.io/v1beta1",
                    "kind": "InferenceService",
                    "name": "owner",
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"template": {"spec": {"containers": [{"image": "kserve/sklearnserver:latest"}]}}},
    }
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(ksvc))
    assert "owner-predictor" in cluster.kubectl("get", "ksvc").stdout

    out = cluster.kubectl("delete", "isvc", "owner").stdout

    assert 'inferenceservice.serving.kserve.io "owner" deleted' in out
    wait_until(
        lambda: "NotFound" in cluster.kubectl("get", "ksvc", "owner-predictor", check=False).stderr,
        15.0,
        what="the owned Knative Service to be collected",
        interval=0.05,
        retry_on=(),
    )


def test_applying_a_crd_serves_a_new_kind(cluster: Cluster) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer", "default": 3}},
                                }
                            },
                        }
                    },
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                    ],
                }
            ],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(crd))
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {}}

    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(widget))

    assert cluster.kubectl("get", "wd").stdout.split() == ["NAME", "SIZE", "w1", "3"]
    cluster.kubectl("delete", "crd", "widgets.example.com")
    gone = cluster.kubectl("get", "widgets.example.com", check=False)
    assert gone.returncode != 0


def test_request_without_token_is_unauthorized(cluster: Cluster, tmp_path: Path) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"][0]["user"]["token"] = "wrong"
    bad = tmp_path / "kubeconfig"
    bad.write_text(yaml.safe_dump(config))
    result = Kubectl(bad, tmp_path / "cache")("get", "ns", check=False)

    assert result.returncode == 1
    assert "Unauthorized" in result.stderr or "provide credentials" in result.stderr


def test_kubectl_server_side_apply(cluster: Cluster) -> None:
    manifest = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "ssa", "labels": {"team": "a"}},
        "spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"modelFormat": {"name": "sklearn"}}}},
    }

    first = cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(manifest))
    cluster.kubectl("annotate", "isvc", "ssa", "owner=someone-else")
    del manifest["metadata"]["labels"]
    del manifest["spec"]["predictor"]["canaryTrafficPercent"]
    manifest["spec"]["predictor"]["minReplicas"] = 2
    second = cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(manifest))
    live = cluster.kubectl.json("get", "isvc", "ssa")

    assert "serverside-applied" in first.stdout and "serverside-applied" in second.stdout
    assert live["spec"]["predictor"]["minReplicas"] == 2
    assert "canaryTrafficPercent" not in live["spec"]["predictor"], (
        "fields the manager stopped applying are removed"
    )
    assert "labels" not in live["metadata"] or "team" not in live["metadata"]["labels"]
    assert live["metadata"]["annotations"]["owner"] == "someone-else", "other managers' fields stay"
    assert live["metadata"]["generation"] == 2


def test_subprocess_error_shape_for_missing_object(cluster: Cluster) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failure:
        cluster.kubectl("get", "isvc", "nope")
    assert (
        'Error from server (NotFound): inferenceservices.serving.kserve.io "nope" not found'
        in failure.value.stderr
    )


def test_kubectl_create_generators_send_protobuf(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "kserve-test")
    cluster.kubectl(
        "create", "secret", "generic", "s3creds", "-n", "kserve-test", "--from-literal=AWS_KEY=abc"
    )
    cluster.kubectl("create", "configmap", "settings", "-n", "kserve-test", "--from-literal=mode=fast")

    secret = cluster.kubectl.json("get", "secret", "s3creds", "-n", "kserve-test")
    config = cluster.kubectl.json("get", "configmap", "settings", "-n", "kserve-test")

    assert secret["data"] == {"AWS_KEY": "YWJj"} and secret["type"] == "Opaque"
    assert config["data"] == {"mode": "fast"}
    cluster.kubectl("delete", "namespace", "kserve-test")
    assert "NotFound" in cluster.kubectl("get", "namespace", "kserve-test", check=False).stderr


def _manifest(name: str, predictor: dict) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": name},
            "spec": {"predictor": predictor},
        }
    )


def test_webhook_rules_refuse_create_and_update_with_every_error(cluster: Cluster) -> None:
    broken = {
        "canaryTrafficPercent": 150,
        "minReplicas": -1,
        "maxReplicas": -2,
        "sklearn": {"storageUri": "gs://bucket/a"},
        "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://bucket/b"},
    }

    created = cluster.kubectl("apply", "-f", "-", input=_manifest("ruled", broken), check=False)
    cluster.kubectl("apply", "-f", "-", input=_manifest("ruled", {"sklearn": {"storageUri": "gs://b/m"}}))
    patched = cluster.kubectl(
        "patch", "isvc", "ruled", "--type", "merge", "-p", '{"spec":{"predictor":{"minReplicas":3,'
        '"maxReplicas":2}}}', check=False,
    )  # fmt: skip
    stored = cluster.kubectl.json("get", "isvc", "ruled")

    assert created.returncode == 1
    assert created.stderr.startswith('The InferenceService "ruled" is invalid: \n* ')
    for expected in (
        "spec.predictor: exactly one of [sklearn, ",
        "spec.predictor.canaryTrafficPercent: must be between 0 and 100",
        "* spec.predictor.minReplicas: must be >= 0",
        "* spec.predictor.maxReplicas: must be >= 0",
    ):
        assert expected in created.stderr
    assert patched.returncode == 1
    assert "spec.predictor.minReplicas: must be <= maxReplicas" in patched.stderr
    assert stored["spec"]["predictor"] == {
        "minReplicas": 1,
        "model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1", "storageUri": "gs://b/m"},
    }, "KServe's defaulting is what is stored"
    assert stored["metadata"]["generation"] == 1


def test_knative_service_rules_refuse_with_the_field_path(cluster: Cluster) -> None:
    ksvc = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "no-containers"},
        "spec": {"template": {"spec": {"containers": []}}},
    }

    result = cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(ksvc), check=False)

    assert result.returncode == 1
    assert result.stderr.startswith('The Service "no-containers" is invalid: spec.template.spec.containers')


def test_unknown_fields_strict_refuses_warn_prunes_and_warns(cluster: Cluster) -> None:
    typo = {"sklearn": {"storageUrl": "gs://bucket/typo"}, "min_replicas": 0}

    strict = cluster.kubectl(
        "apply", "--validate=strict", "-f", "-", input=_manifest("typo", typo), check=False
    )
    missing = cluster.kubectl("get", "isvc", "typo", check=False)
    warned = cluster.kubectl("apply", "--validate=warn", "-f", "-", input=_manifest("typo", typo))
    stored = cluster.kubectl.json("get", "isvc", "typo")

    assert strict.returncode == 1
    assert strict.stderr.startswith("Error from server (BadRequest)")
    assert 'unknown field "spec.predictor.sklearn.storageUrl"' in strict.stderr
    assert 'unknown field "spec.predictor.min_replicas"' in strict.stderr
    assert "not found" in missing.stderr
    assert 'Warning: unknown field "spec.predictor.sklearn.storageUrl"' in warned.stderr
    assert 'Warning: unknown field "spec.predictor.min_replicas"' in warned.stderr
    assert stored["spec"]["predictor"] == {
        "minReplicas": 1,
        "model": {"modelFormat": {"name": "sklearn"}, "protocolVersion": "v1"},
    }, "neither misspelt field is stored or acted on"


def test_warn_mode_stores_the_object_without_the_unknown_field(cluster: Cluster) -> None:
    predictor = {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/m", "storage_uri": "x"}}

    result = cluster.kubectl("apply", "--validate=warn", "-f", "-", input=_manifest("warned", predictor))
    stored = cluster.kubectl.json("get", "isvc", "warned")

    assert 'Warning: unknown field "spec.predictor.model.storage_uri"' in result.stderr
    assert "storage_uri" not in stored["spec"]["predictor"]["model"]


def test_fields_under_preserve_unknown_fields_are_kept_without_a_warning(cluster: Cluster) -> None:
    probe = {"httpGet": {"path": "/v2/health/ready", "port": 8080}, "periodSeconds": 3}
    predictor = {
        "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/m", "readinessProbe": probe},
        "affinity": {"nodeAffinity": {"anyField": True}},
    }

    result = cluster.kubectl("apply", "--validate=strict", "-f", "-", input=_manifest("kept", predictor))
    stored = cluster.kubectl.json("get", "isvc", "kept")["spec"]["predictor"]

    assert "Warning" not in result.stderr
    assert stored["model"]["readinessProbe"] == probe
    assert stored["affinity"] == {"nodeAffinity": {"anyField": True}}
