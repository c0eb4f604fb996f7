#!/usr/bin/env bash
# Install zeroserve's controller on a Kubernetes cluster that runs Knative Serving.
#
#   hack/install-cluster.sh            check prerequisites, install the CRDs, then the controller
#   hack/install-cluster.sh --render   print every manifest it would apply (no cluster needed)
#
# Prerequisites: Knative Serving (required); the Gateway API CRDs and an implementation wired to
# Knative (net-gateway-api, or Istio/Contour/Envoy Gateway) for the InferenceService's top-level
# URL; Knative Eventing for payload logging to a Broker (optional).
# Only KServe's CRDs are applied from config/crd: on a cluster, Knative and the Gateway API own
# their CRDs (config/crd carries copies of those for the embedded platform only).
# Environment: KUBECTL (default: kubectl), TIMEOUT (default: 180s).
set -euo pipefail
cd "$(dirname "$0")/.."
KUBECTL=${KUBECTL:-kubectl}
TIMEOUT=${TIMEOUT:-180s}
CRDS=(config/crd/serving.kserve.io_inferenceservices.yaml config/crd/serving.kserve.io_inferencegraphs.yaml
  config/crd/serving.kserve.io_servingruntimes.yaml config/crd/serving.kserve.io_clusterservingruntimes.yaml
  config/crd/serving.kserve.io_trainedmodels.yaml)

if [[ "${1:-}" == "--render" ]]; then
  for crd in "${CRDS[@]}"; do
    cat "$crd"
    echo "---"
  done
  "$KUBECTL" kustomize config/default
  echo "---"
  "$KUBECTL" kustomize config/runtimes
  exit 0
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--render]" >&2
  exit 2
fi

have_crd() { "$KUBECTL" get crd "$1" >/dev/null 2>&1; }

echo "==> checking prerequisites"
"$KUBECTL" version >/dev/null || { echo "cannot reach the cluster with $KUBECTL" >&2; exit 1; }
if ! have_crd services.serving.knative.dev; then
  echo "Knative Serving is not installed (no services.serving.knative.dev CRD)." >&2
  echo "Install it first: https://knative.dev/docs/install/yaml-install/serving/install-serving-with-yaml/" >&2
  exit 1
fi
if ! have_crd httproutes.gateway.networking.k8s.io; then
  echo "warning: the Gateway API is not installed: InferenceServices will report IngressReady=False" >&2
  echo "         (reason GatewayAPINotInstalled); their components' own Knative URLs still work." >&2
fi
if ! have_crd brokers.eventing.knative.dev; then
  echo "note: Knative Eventing is not installed: payload loggers need another sink than a Broker." >&2
fi

echo "==> installing KServe's CRDs (InferenceService, InferenceGraph, (Cluster)ServingRuntime, TrainedModel)"
crd_args=()
for crd in "${CRDS[@]}"; do crd_args+=(-f "$crd"); done
"$KUBECTL" apply --server-side --force-conflicts "${crd_args[@]}"
"$KUBECTL" wait --for condition=established --timeout="$TIMEOUT" \
  crd/inferenceservices.serving.kserve.io crd/inferencegraphs.serving.kserve.io \
  crd/servingruntimes.serving.kserve.io crd/clusterservingruntimes.serving.kserve.io \
  crd/trainedmodels.serving.kserve.io

echo "==> installing the controller (config/default)"
"$KUBECTL" apply -k config/default
"$KUBECTL" -n zeroserve-system rollout status deployment/zeroserve-controller --timeout="$TIMEOUT"
echo "==> installing the built-in ClusterServingRuntimes (config/runtimes)"
"$KUBECTL" apply -k config/runtimes
echo "==> zeroserve is installed; try: $KUBECTL apply -f config/samples/isvc/"
