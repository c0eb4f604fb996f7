"""The gateway's token reviewer against a real embedded API server (TokenReview), and its cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zeroserve.local.engine.auth import auth_enabled, bearer_token, reviewer_from_kubeconfig
from zeroserve.local.testing import PlatformProcess, apiserver_process


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    with apiserver_process(tmp_path_factory.mktemp("auth-api")) as server:
        yield server


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _token(server: PlatformProcess, namespace: str = "default") -> str:
    if namespace != "default":
        server.kubectl("create", "namespace", namespace)
    return server.kubectl("create", "token", "default", "-n", namespace).stdout.strip()


@pytest.mark.parametrize(
    ("header", "token"),
    [(None, None), ("", None), ("Basic abc", None), ("Bearer ", None), ("bearer  t0k ", "t0k")],
)
def test_bearer_token_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    ("value", "enabled"), [("true", True), ("True ", True), ("false", False), ("", False)]
)
def test_auth_enabled_reads_kserves_annotation(value: str, enabled: bool) -> None:
    assert auth_enabled({"serving.kserve.io/enable-auth": value}) is enabled
    assert auth_enabled(None) is False


async def test_decisions_follow_the_api_servers_review(apiserver: PlatformProcess) -> None:
    reviewer = reviewer_from_kubeconfig(apiserver.kubeconfig)
    good = _token(apiserver)
    other = _token(apiserver, "elsewhere")
    try:
        missing = await reviewer.decide(None, "default")
        forged = await reviewer.decide("Bearer " + good[:-4] + "AAAA", "default")
        allowed = await reviewer.decide(f"Bearer {good}", "default")
        wrong_namespace = await reviewer.decide(f"Bearer {other}", "default")
        own_namespace = await reviewer.decide(f"Bearer {other}", "elsewhere")
    finally:
        await reviewer.aclose()
    assert (missing.status, forged.status) == (401, 401)
    assert "Authorization: Bearer" in missing.message
    assert allowed.allowed and own_namespace.allowed
    assert wrong_namespace.status == 403
    assert "system:serviceaccount:elsewhere:default" in wrong_namespace.message


async def test_answers_are_reused_until_their_time_is_up(tmp_path: Path) -> None:
    clock = FakeClock()
    with apiserver_process(tmp_path / "api") as server:
        reviewer = reviewer_from_kubeconfig(server.kubeconfig, ttl_s=30, clock=clock)
        token = _token(server)
        assert (await reviewer.decide(f"Bearer {token}", "default")).allowed
    try:
        # the API server is gone: the remembered answer still serves ...
        assert (await reviewer.decide(f"Bearer {token}", "default")).allowed
        # ... until it expires; then the reviewer says it could not ask (503), never "allowed"
        clock.now += 31
        assert (await reviewer.decide(f"Bearer {token}", "default")).status == 503
    finally:
        await reviewer.aclose()
