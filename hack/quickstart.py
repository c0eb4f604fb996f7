"""The README's main job: the embedded platform serving a sample model, end to end.

Brings ``zeroserve up`` (in the background, on free ports, state under ``.state/quickstart``), then
does what a KServe user does, with the real ``kubectl``:

1. applies a scikit-learn iris InferenceService with ``minReplicas: 0``;
2. predicts through the gateway with KServe's V1 protocol (by Host header) and the Open Inference
   Protocol V2 (by path prefix);
3. waits for the predictor to scale to zero, and times the next request, held by the activator;
4. rolls out a new model with ``canaryTrafficPercent: 20`` and counts which revision served 500
   requests; then promotes it;
5. stops the platform; ``--keep`` leaves it running and prints how to reach it.

Run it with ``bash hack/quickstart.sh [--keep]`` (which installs first) or
``.venv/bin/python hack/quickstart.py [--keep]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NAME = "sklearn-iris"
ROW = [6.8, 2.8, 4.8, 1.4]

ISVC = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  annotations:
    autoscaling.knative.dev/window: "6s"   # Knative's shortest stable window, for the demo
spec:
  predictor:
    minReplicas: 0                          # scale to zero when idle
    model:
      modelFormat:
        name: sklearn
      storageUri: {uri}
"""


def say(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def run(*args: str, env: dict[str, str], show: bool = True) -> str:
    """Run a command as a user would type it, print it and its output, and return the output."""
    if show:
        print("$ " + " ".join(args[:1] + tuple(a if " " not in a else repr(a) for a in args[1:])), flush=True)
    done = subprocess.run(
        [str(BIN / args[0]), *args[1:]], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    if show and done.stdout.strip():
        print(done.stdout.rstrip(), flush=True)
    return done.stdout


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def train(folder: Path, kind: str) -> Path:
    """Train a small iris classifier with scikit-learn's bundled data and save it as model.joblib."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000) if kind == "logistic" else DecisionTreeClassifier(max_depth=2)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model.fit(features, labels), folder / "model.joblib")
    return folder


class Demo:
    def __init__(self, state: Path, keep: bool) -> None:
        self.state = state
        self.keep = keep
        self.env = dict(os.environ)
        # Short idle periods so the demo shows scale to zero within seconds (Knative's are 60 s + 30 s).
        self.env.setdefault("ZEROSERVE_ENGINE_SCALE_TO_ZERO_GRACE_PERIOD", "2")
        self.env["KUBECONFIG"] = str(state / "kubeconfig")
        self.gateway = ""

    def isvc(self) -> dict[str, Any]:
        out = run("kubectl", "get", "isvc", NAME, "-o", "json", env=self.env, show=False)
        result: dict[str, Any] = json.loads(out)
        return result

    def settled(self, latest_percent: int) -> bool:
        """Ready for the current generation, with ``latest_percent`` of traffic on the latest revision."""
        obj = self.isvc()
        status = obj.get("status", {})
        if status.get("observedGeneration") != obj["metadata"]["generation"]:
            return False
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        predictor = status.get("components", {}).get("predictor", {})
        latest = predictor.get("latestReadyRevision")
        traffic = {t.get("revisionName"): t.get("percent", 0) for t in predictor.get("traffic", [])}
        return (
            ready
            and latest == predictor.get("latestCreatedRevision")
            and traffic.get(latest) == latest_percent
        )

    def predict_v1(self, client: httpx.Client) -> httpx.Response:
        return client.post(
            f"{self.gateway}/v1/models/{NAME}:predict",
            json={"instances": [ROW]},
            headers={"Host": f"{NAME}.default.example.com"},
        )

    def main(self) -> None:
        say("Bring the embedded platform up")
        shutil.rmtree(self.state, ignore_errors=True)
        command = ["zeroserve", "up", "--detach", "--state-dir", str(self.state), "--port", "0"]
        command += ["--gateway-port", "0"]
        print("$ " + " ".join(command), flush=True)
        run(*command, env=self.env, show=False)  # its hints are for a platform left running: see the end
        try:
            self.demo()
        finally:
            if self.keep:
                self.left_running()
            else:
                say("Stop the platform")
                run("zeroserve", "down", "--state-dir", str(self.state), env=self.env)
                print("\n`bash hack/quickstart.sh --keep` leaves it running, to try kubectl and curl.")

    def left_running(self) -> None:
        """Say how to reach the platform left running (its ports were free ones, picked at start)."""
        state = self.state
        say("Left running")
        print(
            f"""  source .venv/bin/activate
  export KUBECONFIG={state / "kubeconfig"}
  kubectl get isvc
  curl -H "Host: {NAME}.default.example.com" {self.gateway}/v1/models/{NAME}:predict \\
       -d @config/samples/requests/iris-v1.json
  zeroserve logs {NAME} -f --state-dir {state}
  zeroserve status --state-dir {state}        # addresses
  zeroserve down --state-dir {state}          # stop it"""
        )

    def demo(self) -> None:
        info = json.loads(
            run("zeroserve", "status", "--state-dir", str(self.state), "-o", "json", env=self.env, show=False)
        )
        self.gateway = info["gateway_url"]
        print(f"API server {info['api_url']}, gateway {self.gateway}, state in {self.state}")
        v1 = train(self.state / "models" / "iris-v1", "logistic")
        v2 = train(self.state / "models" / "iris-v2", "tree")

        say("Apply a KServe InferenceService (scikit-learn iris, minReplicas: 0)")
        manifest = self.state / "isvc.yaml"
        manifest.write_text(ISVC.format(name=NAME, uri=v1.as_uri()))
        print(manifest.read_text())
        run("kubectl", "apply", "-f", str(manifest), env=self.env)
        wait_for("the InferenceService to be Ready", lambda: self.settled(100), 120)
        run("kubectl", "get", "isvc", env=self.env)
        run("kubectl", "get", "ksvc,revision", env=self.env)

        with httpx.Client(timeout=30, trust_env=False) as client:
            say("Predict through the gateway")
            print(f"V1 (Host: {NAME}.default.example.com) POST /v1/models/{NAME}:predict")
            answer = self.predict_v1(client)
            print(
                f"  -> {answer.status_code} {answer.text}  [served by {answer.headers['zeroserve-revision']}]"
            )
            v2_body = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": ROW}]}
            path = f"/serving/default/{NAME}/v2/models/{NAME}/infer"
            print(f"V2 (path prefix) POST {path}")
            answer = client.post(self.gateway + path, json=v2_body)
            print(f"  -> {answer.status_code} {answer.text}")

            say("Scale to zero, and back")
            revision = self.isvc()["status"]["components"]["predictor"]["latestReadyRevision"]
            started = time.monotonic()

            def replicas() -> int:
                out = run(
                    "kubectl",
                    "get",
                    "revision",
                    revision,
                    "-o",
                    "jsonpath={.status.actualReplicas}",
                    env=self.env,
                    show=False,
                )
                return int(out or 0)

            wait_for("scale to zero", lambda: replicas() == 0, 180)
            print(f"{revision} scaled to zero after {time.monotonic() - started:.1f} s idle")
            run("kubectl", "get", "revision", revision, env=self.env)
            began = time.perf_counter()
            answer = self.predict_v1(client)
            print(
                f"request from zero -> {answer.status_code} {answer.text} "
                f"in {(time.perf_counter() - began) * 1000:.0f} ms (held by the activator while it started)"
            )

            say("Canary: a new model with canaryTrafficPercent: 20")
            patch = {
                "spec": {"predictor": {"canaryTrafficPercent": 20, "model": {"storageUri": v2.as_uri()}}}
            }
            run("kubectl", "patch", "isvc", NAME, "--type", "merge", "-p", json.dumps(patch), env=self.env)
            wait_for("the canary revision to take 20% of traffic", lambda: self.settled(20), 120)
            run("kubectl", "get", "isvc", env=self.env)
            served = collections.Counter(
                self.predict_v1(client).headers["zeroserve-revision"] for _ in range(500)
            )
            for name, count in sorted(served.items()):
                print(f"  {name}: {count:3d} of 500 ({count / 5:.0f}%)")

            say("Promote: remove canaryTrafficPercent")
            patch = {"spec": {"predictor": {"canaryTrafficPercent": None}}}
            run("kubectl", "patch", "isvc", NAME, "--type", "merge", "-p", json.dumps(patch), env=self.env)
            wait_for("the promotion", lambda: self.settled(100), 120)
            run("kubectl", "get", "isvc", env=self.env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".state" / "quickstart")
    parser.add_argument(
        "--keep", action="store_true", help="leave the platform running at the end and say how to reach it"
    )
    args = parser.parse_args()
    Demo(args.state_dir.resolve(), args.keep).main()


if __name__ == "__main__":
    main()
