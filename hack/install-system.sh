#!/usr/bin/env bash
# Debian packages the tests use, installed only when this runs as root with apt-get (CI and this
# sandbox); elsewhere it says what it skipped and the tests that need them skip with the reason.
#   podman, runc      run OCI images on the embedded platform (issue 14); containers.conf gets
#                     runtime = "runc" and default_ulimits = [] (sandboxes that refuse RLIMIT_NPROC)
#   prometheus        for promtool, which checks every /metrics we serve
#   gcc, libc6-dev    build the container tests' static KServe V1 server (gcc -static)
#   libgomp1          the OpenMP runtime lightgbm's and paddlepaddle's wheels link (not bundled)
# Environment: ZEROSERVE_APT_PACKAGES overrides the package list; ZEROSERVE_SKIP_APT=1 skips it.
set -euo pipefail
PACKAGES=${ZEROSERVE_APT_PACKAGES:-podman runc prometheus gcc libc6-dev libgomp1}
BEGAN=$SECONDS
if [ "${ZEROSERVE_SKIP_APT:-0}" = 1 ]; then
  echo "==> system packages: skipped (ZEROSERVE_SKIP_APT=1)"; exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "==> system packages: skipped (needs root and apt-get); tests needing $PACKAGES skip"; exit 0
fi
missing=()
for pkg in $PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } >/tmp/zeroserve-apt.log 2>&1; then
    echo "    apt-get failed (tests needing ${missing[*]} will skip); last lines:"
    tail -5 /tmp/zeroserve-apt.log | sed 's/^/    /'
    exit 0
  fi
fi
if command -v podman >/dev/null 2>&1 && [ ! -e /etc/containers/containers.conf ]; then
  mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' > /etc/containers/containers.conf
fi
echo "    system packages ready in $((SECONDS - BEGAN)) s"
