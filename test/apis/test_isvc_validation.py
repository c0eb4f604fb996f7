"""KServe's InferenceService validation: one row per rule, each with its exact messages and paths.

Every input is also checked against KServe's own CRD schema: a row says whether KServe's API server
would accept it (``schema_ok``), so the tests prove we reject at least what KServe rejects and
report the semantic errors KServe's webhook reports.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.apis.serving.v1beta1.types import InferenceService
from zeroserve.apis.serving.v1beta1.validation import ignored_fields, validate_inference_service

from .conftest import Validate

URI = "gs://kfserving-examples/models/sklearn/1.0/model"
HPA = {"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev"}
STORAGE_MESSAGE = (
    "must be one of: [gs://, s3://, pvc://, file://, https://, http://, hdfs://, webhdfs://, oci://, "
    "oci+native://, oci+fetch://, hf://] or be an absolute or relative local path; "
    "StorageUri [{}] is not supported"
)
EXACTLY_ONE = (
    "spec.predictor: exactly one of [sklearn, xgboost, tensorflow, pytorch, triton, onnx, huggingface, pmml, "
    "lightgbm, paddle, model, containers] must be specified in PredictorSpec"
)
NAME_PATTERN = (
    "metadata.name: must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character "
    "(regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def _base() -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris", "namespace": "default"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": URI}}},
    }


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = obj
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return apply


def _del(path: str) -> Mutation:
    def apply(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = obj
        for key in parents:
            node = node[key]
        del node[last]

    return apply


def _all(*mutations: Mutation) -> Mutation:
    def apply(obj: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(obj)

    return apply


P = "spec.predictor"
CONTAINER = [{"name": "kserve-container", "image": "me/model:1"}]

# (id, mutation of a valid InferenceService, expected errors, accepted by KServe's CRD schema)
CASES: list[tuple[str, Mutation, list[str], bool]] = [
    ("valid", _all(), [], True),
    ("name-missing", _set("metadata.name", ""), ["metadata.name: is required"], True),
    ("name-uppercase", _set("metadata.name", "Iris"), [NAME_PATTERN], True),
    ("name-starts-with-digit", _set("metadata.name", "1iris"), [NAME_PATTERN], True),
    ("name-ends-with-dash", _set("metadata.name", "iris-"), [NAME_PATTERN], True),
    (
        "name-too-long",
        _set("metadata.name", "a" * 64),
        ["metadata.name: must be no more than 63 characters"],
        True,
    ),
    (
        "name-too-long-for-predictor-ksvc",
        _set("metadata.name", "a" * 54),
        [
            "metadata.name: must be no more than 53 characters, so that the Knative Service names "
            "<name>-<component> are DNS-1035 labels"
        ],
        True,
    ),
    (
        "name-too-long-for-transformer-ksvc",
        _all(_set("metadata.name", "a" * 52), _set("spec.transformer", {"containers": CONTAINER})),
        [
            "metadata.name: must be no more than 51 characters, so that the Knative Service names "
            "<name>-<component> are DNS-1035 labels"
        ],
        True,
    ),
    ("no-implementation", _del(f"{P}.model"), [EXACTLY_ONE], True),
    ("two-implementations", _set(f"{P}.sklearn", {"storageUri": URI}), [EXACTLY_ONE], True),
    (
        "two-legacy-keys",
        _all(_del(f"{P}.model"), _set(f"{P}.sklearn", {}), _set(f"{P}.xgboost", {})),
        [EXACTLY_ONE],
        True,
    ),
    ("custom-containers", _all(_del(f"{P}.model"), _set(f"{P}.containers", CONTAINER)), [], True),
    ("model-with-extra-containers-collocated", _set(f"{P}.containers", CONTAINER), [], True),
    ("model-format-missing", _del(f"{P}.model.modelFormat"), [f"{P}.model.modelFormat: is required"], True),
    (
        "model-format-name-empty",
        _set(f"{P}.model.modelFormat", {"name": ""}),
        [f"{P}.model.modelFormat.name: is required"],
        True,
    ),
    (
        "protocol-version-unknown",
        _set(f"{P}.model.protocolVersion", "v3"),
        [f"{P}.model.protocolVersion: must be one of v1, v2, grpc-v1, grpc-v2"],
        True,
    ),
    (
        "legacy-protocol-version-unknown",
        _all(_del(f"{P}.model"), _set(f"{P}.sklearn", {"protocolVersion": "rest"})),
        [f"{P}.model.protocolVersion: must be one of v1, v2, grpc-v1, grpc-v2"],
        True,
    ),
    *[
        (
            f"storage-uri-{scheme.rstrip(':/')}",
            _set(f"{P}.model.storageUri", f"{scheme}bucket/model"),
            [],
            True,
        )
        for scheme in ("s3://", "pvc://", "file://", "https://", "http://", "hf://", "oci://")
    ],
    ("storage-uri-local-path", _set(f"{P}.model.storageUri", "/models/iris"), [], True),
    ("storage-uri-relative-path", _set(f"{P}.model.storageUri", "models/iris"), [], True),
    (
        "storage-uri-unknown-scheme",
        _set(f"{P}.model.storageUri", "ftp://host/model"),
        [f"{P}.model.storageUri: " + STORAGE_MESSAGE.format("ftp://host/model")],
        True,
    ),
    (
        "storage-uri-empty",
        _set(f"{P}.model.storageUri", " "),
        [f"{P}.model.storageUri: must not be empty"],
        True,
    ),
    (
        "storage-uris-entries",
        _set(
            f"{P}.storageUris",
            [{"uri": "s3://b/m", "mountPath": "/mnt/a"}, {"uri": "ftp://x", "mountPath": "/mnt/b"}],
        ),
        [f"{P}.storageUris[1].uri: " + STORAGE_MESSAGE.format("ftp://x")],
        True,
    ),
    ("min-replicas-negative", _set(f"{P}.minReplicas", -1), [f"{P}.minReplicas: must be >= 0"], True),
    ("max-replicas-negative", _set(f"{P}.maxReplicas", -1), [f"{P}.maxReplicas: must be >= 0"], True),
    (
        "min-greater-than-max",
        _all(_set(f"{P}.minReplicas", 3), _set(f"{P}.maxReplicas", 2)),
        [f"{P}.minReplicas: must be <= maxReplicas"],
        True,
    ),
    ("min-with-unbounded-max", _all(_set(f"{P}.minReplicas", 3), _set(f"{P}.maxReplicas", 0)), [], True),
    ("min-zero-scale-to-zero", _set(f"{P}.minReplicas", 0), [], True),
    (
        "scale-metric-concurrency",
        _all(_set(f"{P}.scaleMetric", "concurrency"), _set(f"{P}.scaleTarget", 5)),
        [],
        True,
    ),
    ("scale-metric-rps", _all(_set(f"{P}.scaleMetric", "rps"), _set(f"{P}.scaleTarget", 100)), [], True),
    (
        "scale-metric-rps-target-zero",
        _all(_set(f"{P}.scaleMetric", "rps"), _set(f"{P}.scaleTarget", 0)),
        [f"{P}.scaleTarget: must be >= 1 for metric rps"],
        True,
    ),
    (
        "scale-metric-cpu-needs-hpa",
        _set(f"{P}.scaleMetric", "cpu"),
        [
            f"{P}.scaleMetric: metric cpu needs the annotation autoscaling.knative.dev/class: "
            "hpa.autoscaling.knative.dev (the default autoscaler, KPA, supports concurrency and rps)"
        ],
        True,
    ),
    (
        "scale-metric-memory-needs-hpa",
        _set(f"{P}.scaleMetric", "memory"),
        [
            f"{P}.scaleMetric: metric memory needs the annotation autoscaling.knative.dev/class: "
            "hpa.autoscaling.knative.dev (the default autoscaler, KPA, supports concurrency and rps)"
        ],
        True,
    ),
    (
        "scale-metric-cpu-with-hpa",
        _all(_set("metadata.annotations", HPA), _set(f"{P}.scaleMetric", "cpu")),
        [],
        True,
    ),
    (
        "scale-metric-cpu-with-hpa-on-component",
        _all(_set(f"{P}.annotations", HPA), _set(f"{P}.scaleMetric", "cpu")),
        [],
        True,
    ),
    (
        "hpa-rejects-concurrency",
        _all(_set("metadata.annotations", HPA), _set(f"{P}.scaleMetric", "concurrency")),
        [f"{P}.scaleMetric: the autoscaler hpa.autoscaling.knative.dev supports only cpu and memory"],
        True,
    ),
    (
        "hpa-cpu-target-over-100",
        _all(
            _set("metadata.annotations", HPA), _set(f"{P}.scaleMetric", "cpu"), _set(f"{P}.scaleTarget", 150)
        ),
        [f"{P}.scaleTarget: must be between 1 and 100 for metric cpu (a percent)"],
        True,
    ),
    (
        "unknown-autoscaler-class",
        _set("metadata.annotations", {"autoscaling.knative.dev/class": "keda"}),
        [
            "metadata.annotations[autoscaling.knative.dev/class]: must be kpa.autoscaling.knative.dev or "
            "hpa.autoscaling.knative.dev"
        ],
        True,
    ),
    (
        "scale-metric-unknown",
        _set(f"{P}.scaleMetric", "gpu"),
        [f"{P}.scaleMetric: must be one of cpu, memory, concurrency, rps"],
        False,
    ),
    ("scale-target-negative", _set(f"{P}.scaleTarget", -1), [f"{P}.scaleTarget: must be >= 0"], True),
    (
        "scale-metric-type-unknown",
        _set(f"{P}.scaleMetricType", "Percent"),
        [f"{P}.scaleMetricType: must be one of Utilization, Value, AverageValue"],
        False,
    ),
    (
        "container-concurrency-negative",
        _set(f"{P}.containerConcurrency", -1),
        [f"{P}.containerConcurrency: must be >= 0"],
        True,
    ),
    ("timeout-negative", _set(f"{P}.timeout", -5), [f"{P}.timeout: must be >= 0"], True),
    ("canary-percent-10", _set(f"{P}.canaryTrafficPercent", 10), [], True),
    ("canary-percent-0-pins-previous", _set(f"{P}.canaryTrafficPercent", 0), [], True),
    (
        "canary-percent-over-100",
        _set(f"{P}.canaryTrafficPercent", 101),
        [f"{P}.canaryTrafficPercent: must be between 0 and 100"],
        True,
    ),
    (
        "canary-percent-negative",
        _set(f"{P}.canaryTrafficPercent", -1),
        [f"{P}.canaryTrafficPercent: must be between 0 and 100"],
        True,
    ),
    (
        "logger-mode-unknown",
        _set(f"{P}.logger", {"mode": "both"}),
        [f"{P}.logger.mode: invalid logger type: must be one of all, request, response"],
        False,
    ),
    (
        "logger-mode-empty",
        _set(f"{P}.logger", {"mode": ""}),
        [f"{P}.logger.mode: invalid logger type: must be one of all, request, response"],
        False,
    ),
    (
        "logger-url-relative",
        _set(f"{P}.logger", {"url": "broker/default"}),
        [f"{P}.logger.url: must be an absolute URL"],
        True,
    ),
    (
        "batcher-values-not-positive",
        _set(f"{P}.batcher", {"maxBatchSize": 0, "maxLatency": -1, "timeout": 0}),
        [
            f"{P}.batcher.maxBatchSize: must be > 0",
            f"{P}.batcher.maxLatency: must be > 0",
            f"{P}.batcher.timeout: must be > 0",
        ],
        True,
    ),
    (
        "transformer-without-containers",
        _set("spec.transformer", {"minReplicas": 1}),
        ["spec.transformer.containers: is required"],
        True,
    ),
    (
        "transformer-component-rules",
        _set(
            "spec.transformer", {"containers": CONTAINER, "minReplicas": 2, "maxReplicas": 1, "timeout": -1}
        ),
        ["spec.transformer.minReplicas: must be <= maxReplicas", "spec.transformer.timeout: must be >= 0"],
        True,
    ),
    (
        "explainer-without-implementation",
        _set("spec.explainer", {"minReplicas": 1}),
        ["spec.explainer: exactly one of [art, model, containers] must be specified in ExplainerSpec"],
        True,
    ),
    ("explainer-containers", _set("spec.explainer", {"containers": CONTAINER}), [], True),
    (
        "explainer-logger-rule",
        _set("spec.explainer", {"containers": CONTAINER, "logger": {"url": "nowhere"}}),
        ["spec.explainer.logger.url: must be an absolute URL"],
        True,
    ),
    (
        "deployment-mode-unknown",
        _set("metadata.annotations", {"serving.kserve.io/deploymentMode": "Lambda"}),
        [
            "metadata.annotations[serving.kserve.io/deploymentMode]: must be one of Serverless, Knative, "
            "RawDeployment, Standard, ModelMesh"
        ],
        True,
    ),
    (
        "kserve-autoscaler-class-unknown",
        _set("metadata.annotations", {"serving.kserve.io/autoscalerClass": "kpa"}),
        [
            "metadata.annotations[serving.kserve.io/autoscalerClass]: [kpa] is not a supported autoscaler "
            "class type: must be one of hpa, external, keda, none"
        ],
        True,
    ),
    (
        "kserve-autoscaler-class-keda",
        _set("metadata.annotations", {"serving.kserve.io/autoscalerClass": "keda"}),
        [],
        True,
    ),
    (
        "canary-list-over-100",
        _set(
            "spec.canary",
            [
                {"trafficPercent": 60, "predictor": {"name": "a"}},
                {"trafficPercent": 50, "predictor": {"name": "b"}},
            ],
        ),
        ["spec.canary: the sum of trafficPercent must be <= 100"],
        True,
    ),
    (
        "canary-list-entry-needs-name",
        _set("spec.canary", [{"trafficPercent": 10, "predictor": {}}]),
        ["spec.canary[0].predictor.name: is required"],
        True,
    ),
    (
        "every-error-reported",
        _all(
            _set("metadata.name", "Bad_Name"),
            _set(f"{P}.sklearn", {}),
            _set(f"{P}.minReplicas", 5),
            _set(f"{P}.maxReplicas", 1),
            _set(f"{P}.canaryTrafficPercent", 200),
            _set(f"{P}.batcher", {"maxBatchSize": 0}),
        ),
        [
            NAME_PATTERN,
            EXACTLY_ONE,
            f"{P}.minReplicas: must be <= maxReplicas",
            f"{P}.canaryTrafficPercent: must be between 0 and 100",
            f"{P}.batcher.maxBatchSize: must be > 0",
        ],
        True,
    ),
]


def _build(mutation: Mutation) -> dict[str, Any]:
    obj = _base()
    mutation(obj)
    return obj


@pytest.mark.parametrize(("mutation", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_validation_errors(mutation: Mutation, expected: list[str]) -> None:
    isvc = default_inference_service(InferenceService.from_dict(_build(mutation)))
    assert [str(error) for error in validate_inference_service(isvc)] == expected


def test_input_against_kserve_crd(reference_schema: dict[str, Validate], subtests: pytest.Subtests) -> None:
    for name, mutation, _, schema_ok in CASES:
        with subtests.test(msg=name):
            errors = reference_schema["InferenceService"](_build(mutation))
            assert (errors == []) is schema_ok, errors


def test_validation_does_not_change_the_object() -> None:
    isvc = InferenceService.from_dict(_build(_set(f"{P}.minReplicas", -1)))
    before = copy.deepcopy(isvc.to_dict())
    validate_inference_service(isvc)
    assert isvc.to_dict() == before


# (id, mutation, fields reported as kept but not acted on)
IGNORED: list[tuple[str, Mutation, list[str]]] = [
    ("nothing-ignored", _all(), []),
    (
        "extension-fields",
        _all(
            _set(f"{P}.scaleMetricType", "Utilization"),
            _set(f"{P}.autoScaling", {"metrics": []}),
            _set(f"{P}.deploymentStrategy", {"type": "Recreate"}),
        ),
        [f"{P}.scaleMetricType", f"{P}.autoScaling", f"{P}.deploymentStrategy"],
    ),
    (
        "logger-blob-and-batcher-timeout",
        _all(
            _set(
                f"{P}.logger",
                {
                    "url": "s3://logs",
                    "storage": {"path": "/x"},
                    "batchSize": 10,
                    "metadataAnnotations": ["a"],
                },
            ),
            _set(f"{P}.batcher", {"maxBatchSize": 4, "timeout": 10}),
        ),
        [
            f"{P}.logger.storage",
            f"{P}.logger.batchSize",
            f"{P}.logger.metadataAnnotations",
        ],
    ),
    (
        "predictor-only-fields",
        _all(
            _set(f"{P}.workerSpec", {"pipelineParallelSize": 2}),
            _set(f"{P}.storageUris", [{"uri": "s3://a"}]),
            _set(f"{P}.model.storage", {"key": "k"}),
        ),
        # model.storage is acted on (the storage-config secret names the model's location)
        [f"{P}.workerSpec", f"{P}.storageUris"],
    ),
    (
        "pod-fields-knative-cannot-run",
        _all(
            _set(f"{P}.hostname", "h"),
            _set(f"{P}.priority", 5),
            _set(f"{P}.affinity", {}),
            _set(f"{P}.dnsPolicy", "None"),
        ),
        [f"{P}.hostname", f"{P}.priority"],
    ),
    (
        "raw-deployment-and-canary-list",
        _all(
            _set("metadata.annotations", {"serving.kserve.io/deploymentMode": "RawDeployment"}),
            _set("spec.canary", [{"trafficPercent": 10, "predictor": {"name": "b"}}]),
        ),
        ["metadata.annotations[serving.kserve.io/deploymentMode]", "spec.canary"],
    ),
    (
        "standard-mode-autoscaler-class",
        _set("metadata.annotations", {"serving.kserve.io/autoscalerClass": "hpa"}),
        ["metadata.annotations[serving.kserve.io/autoscalerClass]"],
    ),
    # spec.explainer.art is served (zeroserve serve art), so it is no longer an ignored field
    ("explainer-art", _set("spec.explainer", {"art": {"type": "SquareAttack"}}), []),
]


@pytest.mark.parametrize(
    ("mutation", "expected"), [(c[1], c[2]) for c in IGNORED], ids=[c[0] for c in IGNORED]
)
def test_ignored_fields(mutation: Mutation, expected: list[str]) -> None:
    obj = _build(mutation)
    isvc = default_inference_service(InferenceService.from_dict(obj))
    assert ignored_fields(isvc) == expected
    assert isvc.to_dict()["spec"]["predictor"].keys() >= obj["spec"]["predictor"].keys() - {"sklearn"}


def test_ignored_fields_are_accepted_by_kserve_crd(
    reference_schema: dict[str, Validate], subtests: pytest.Subtests
) -> None:
    """Every field zeroserve keeps but does not act on is one KServe's CRD accepts."""
    for name, mutation, _ in IGNORED:
        with subtests.test(msg=name):
            assert reference_schema["InferenceService"](_build(mutation)) == []


def test_legacy_key_errors_have_the_legacy_path_before_defaulting() -> None:
    obj = _build(
        _all(_del(f"{P}.model"), _set(f"{P}.sklearn", {"protocolVersion": "v9", "storageUri": "ftp://x"}))
    )
    errors = [str(error) for error in validate_inference_service(InferenceService.from_dict(obj))]
    assert errors == [
        f"{P}.sklearn.protocolVersion: must be one of v1, v2, grpc-v1, grpc-v2",
        f"{P}.sklearn.storageUri: " + STORAGE_MESSAGE.format("ftp://x"),
    ]
