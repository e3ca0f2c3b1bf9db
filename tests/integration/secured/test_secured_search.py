"""The search engine behind TLS + auth (tests/support/secured.py says why a proxy and not
OpenSearch's security plugin): both clients we ship index over it with basic auth and with
an API key, and bad credentials or an unknown CA fail in one clear sentence."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from streams.search.base import SearchUnavailable
from streams.search.factory import detect_server, make_backend
from streams.settings import Settings
from tests.integration.secured.conftest import Secured
from tests.integration.secured.test_secured_kafka import voc
from tests.integration.test_search_backends import feedback

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture()
def alias(unique_name: str, secured: Secured) -> Iterator[str]:
    yield f"voc-sec-{unique_name}"

    async def drop() -> None:
        backend = make_backend(secured.search_settings(), kind="opensearch",
                               alias=f"voc-sec-{unique_name}")
        try:
            await backend.drop()
        finally:
            await backend.close()

    asyncio.run(drop())


def _auth(secured: Secured, how: str) -> dict[str, Any]:
    if how == "api_key":
        return {"search_username": None, "search_password": None,
                "search_api_key": secured.secret(secured.search_api_key_file)}
    return {}


@pytest.mark.parametrize("kind", ["opensearch", "elasticsearch"])
@pytest.mark.parametrize("how", ["basic", "api_key"])
def test_clients_index_and_search_over_tls_with_auth(secured: Secured, alias: str, kind: str,
                                                     how: str) -> None:
    settings = secured.search_settings(**_auth(secured, how))

    async def roundtrip() -> tuple[int, list[str]]:
        backend = make_backend(settings, kind=kind, alias=alias)  # type: ignore[arg-type]
        try:
            await backend.ensure_index()
            results = await backend.bulk_index([feedback(1, "charged twice, furious")])
            assert all(r.ok for r in results), results
            await backend.refresh()
            return await backend.count(), [h.id for h in await backend.search("charged")]
        finally:
            await backend.close()

    count, ids = asyncio.run(roundtrip())
    assert count == 1 and ids == ["sms:T1"]


def test_auto_detection_over_tls_with_auth(secured: Secured) -> None:
    assert detect_server(secured.search_settings())[0] == "opensearch"


@pytest.mark.parametrize("bad", ["password", "api_key", "none"])
def test_bad_credentials_fail_clearly(secured: Secured, bad: str) -> None:
    over: dict[str, Any] = {
        "password": {"search_password": SecretStr("wrong-password")},
        "api_key": {"search_username": None, "search_password": None,
                    "search_api_key": SecretStr("wrong-key")},
        "none": {"search_username": None, "search_password": None},
    }[bad]
    settings = secured.search_settings().model_copy(update=over)
    with pytest.raises(SearchUnavailable, match="HTTP 401: the engine refused our credentials"):
        detect_server(settings)


@pytest.mark.parametrize("ca", ["rogue", "system"])
def test_unknown_ca_fails_clearly(secured: Secured, ca: str) -> None:
    settings = secured.search_settings(
        search_ca_certs=secured.pki.rogue_ca if ca == "rogue" else None)
    with pytest.raises(SearchUnavailable, match="TLS certificate not trusted.*VOC_SEARCH_CA_CERTS"):
        detect_server(settings)


def test_cli_masks_credentials_in_the_search_url(secured: Secured, tmp_path: Path) -> None:
    url = secured.search_url.replace("https://", "https://voc-indexer:wrong-pw-42@")
    proc = voc(["search", "anything"], {"VOC_SEARCH_URL": url,
                                        "VOC_SEARCH_CA_CERTS": str(secured.pki.ca),
                                        "VOC_SEARCH_RETRY_ATTEMPTS": "1"})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "refused our credentials" in out
    assert "wrong-pw-42" not in out


def test_credentials_over_http_are_refused(secured: Secured) -> None:
    proc = voc(["search", "anything"], {"VOC_SEARCH_URL": "http://u:leaky-pw@127.0.0.1:9200"})
    assert proc.returncode == 2
    assert "refusing to send search credentials" in proc.stderr
    assert "leaky-pw" not in proc.stdout + proc.stderr
    assert Settings(search_url="http://127.0.0.1:9200").search_url  # no credentials: fine
