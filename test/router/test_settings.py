"""Router settings: flags over ``ZEROSERVE_ROUTER_*``, and KServe's / Knative's own variables."""

from __future__ import annotations

import pytest

from zeroserve.router.settings import RouterSettings


def test_kserve_and_knative_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9091")
    monkeypatch.setenv("PROPAGATE_HEADERS", "Authorization, Test-Header-*,")
    monkeypatch.setenv("POD_NAMESPACE", "team")
    settings = RouterSettings()
    assert settings.http_port == 9091
    assert settings.header_patterns() == ["Authorization", "Test-Header-*"]
    assert settings.namespace == "team"
    assert settings.http_client == "aiohttp"


def test_our_variables_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9091")
    monkeypatch.setenv("ZEROSERVE_ROUTER_HTTP_PORT", "9092")
    monkeypatch.setenv("ZEROSERVE_ROUTER_HTTP_CLIENT", "httpx")
    assert RouterSettings().http_port == 9092
    assert RouterSettings().http_client == "httpx"
    assert RouterSettings(http_port=0, propagate_headers="X-*").http_port == 0
    assert RouterSettings(propagate_headers="X-*").header_patterns() == ["X-*"]
