"""ServiceAccount tokens: real ``kubectl create token`` and TokenReview, the default ServiceAccount of
each namespace, and the issuer's rules (expiry, audiences, signature) on a fake clock."""

from __future__ import annotations

import base64
import json

import pytest
from kubernetes.client import AuthenticationV1Api, CoreV1Api

from zeroserve.local.apiserver.tokens import API_AUDIENCE, InvalidToken, TokenIssuer

from .conftest import Cluster


def _review(cluster: Cluster, token: str, audiences: list[str] | None = None) -> dict:
    with cluster.api_client() as client:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        if audiences:
            body["spec"]["audiences"] = audiences
        return client.sanitize_for_serialization(AuthenticationV1Api(client).create_token_review(body))


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_kubectl_create_token_gives_a_token_that_reviews_as_the_service_account(cluster: Cluster) -> None:
    token = cluster.kubectl("create", "token", "default").stdout.strip()
    scoped = cluster.kubectl(
        "create", "token", "default", "--audience=gateway", "--duration=20m"
    ).stdout.strip()

    review = _review(cluster, token)
    scoped_review = _review(cluster, scoped, ["gateway"])
    wrong_audience = _review(cluster, scoped)

    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == "system:serviceaccount:default:default"
    assert review["status"]["user"]["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ]
    assert review["status"]["audiences"] == [API_AUDIENCE]
    claims = _claims(scoped)
    assert claims["aud"] == ["gateway"] and claims["exp"] - claims["iat"] == 1200
    assert claims["sub"] == "system:serviceaccount:default:default"
    assert scoped_review["status"]["authenticated"] is True
    assert wrong_audience["status"]["authenticated"] is False
    assert "audiences" in wrong_audience["status"]["error"]


def test_every_namespace_gets_a_default_service_account(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "tokens-ns")

    accounts = cluster.kubectl("get", "serviceaccounts", "-n", "tokens-ns", "-o", "name").stdout.split()
    kube_system = cluster.kubectl("get", "sa", "default", "-n", "kube-system", "-o", "name").stdout.strip()
    token = cluster.kubectl("create", "token", "default", "-n", "tokens-ns").stdout.strip()

    assert accounts == ["serviceaccount/default"]
    assert kube_system == "serviceaccount/default"
    assert _review(cluster, token)["status"]["user"]["username"] == "system:serviceaccount:tokens-ns:default"


def test_a_deleted_service_account_s_tokens_stop_working(cluster: Cluster) -> None:
    cluster.kubectl("create", "serviceaccount", "short-lived")
    token = cluster.kubectl("create", "token", "short-lived").stdout.strip()
    before = _review(cluster, token)
    cluster.kubectl("delete", "serviceaccount", "short-lived")
    cluster.kubectl("create", "serviceaccount", "short-lived")

    after = _review(cluster, token)

    assert before["status"]["authenticated"] is True
    assert after["status"]["authenticated"] is False
    assert (
        after["status"]["error"] == 'the service account "default/short-lived" of the token no longer exists'
    )


def test_bad_tokens_and_requests(cluster: Cluster) -> None:
    token = cluster.kubectl("create", "token", "default").stdout.strip()
    header, _, signature = token.split(".")
    forged_claims = {**_claims(token), "sub": "system:serviceaccount:kube-system:default"}
    forged = ".".join(
        [header, base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).decode(), signature]
    )
    short = cluster.kubectl("create", "token", "default", "--duration=1m", check=False)
    missing = cluster.kubectl("create", "token", "nobody", check=False)

    assert _review(cluster, forged)["status"]["authenticated"] is False
    assert _review(cluster, "garbage")["status"] == {
        "authenticated": False,
        "user": {},
        "error": "not a JWT issued by this server",
    }
    assert _review(cluster, cluster.server.token)["status"]["user"]["username"] == "zeroserve:admin"
    assert short.returncode == 1 and "may not specify a duration less than 10 minutes" in short.stderr
    assert missing.returncode == 1 and 'serviceaccounts "nobody" not found' in missing.stderr
    empty = cluster.kubectl(
        "create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews", "-f", "-",
        input='{"kind": "TokenReview", "spec": {}}', check=False,
    )  # fmt: skip
    assert empty.returncode == 1 and "spec.token: Required value" in empty.stderr
    with cluster.api_client() as client:
        assert CoreV1Api(client).read_namespaced_service_account("default", "default").metadata.uid


def test_issuer_expiry_audiences_and_signature_on_a_fake_clock() -> None:
    clock = [1_000_000.0]
    issuer = TokenIssuer(b"k" * 32, now=lambda: clock[0])
    account = {"metadata": {"name": "sa", "uid": "u-1"}}
    token, expires = issuer.issue("ns", account, ["a", "b"], 600)

    assert expires == 1_000_600
    assert issuer.verify(token, ["b"])["kubernetes.io"]["serviceaccount"] == {"name": "sa", "uid": "u-1"}
    with pytest.raises(InvalidToken, match="audiences"):
        issuer.verify(token, ["c"])
    with pytest.raises(InvalidToken, match="not a token issued by this server"):
        TokenIssuer(b"x" * 32, now=lambda: clock[0]).verify(token, ["a"])
    clock[0] += 600
    with pytest.raises(InvalidToken, match="expired"):
        issuer.verify(token, ["a"])
