"""Webhooks reach only public HTTPS receivers, are signed per agency and carry ids and links
(issue 18: the probe's webhooks reached 169.254.169.254, localhost, 10.x, [::1] and user:pass@
URLs, and carried carer names and client addresses unsigned over plain http).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.webhook_rules import Delivery, UnsafeWebhook, deliver, prepare, sign
from tests.api.service import HeldRunner, agency_headers

# A public address written as a literal: accepted without asking any name server.
PUBLIC = "https://93.184.216.34/hooks/carerota"


@pytest.fixture
def production(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An API with the production rules (https only, public addresses), and an agency."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/hooks.db")
    assert not settings.webhook_allow_insecure
    with TestClient(create_app(settings, runner=HeldRunner())) as client:
        yield client, agency_headers(settings)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://93.184.216.34/hook", "https"),
        ("https://169.254.169.254/latest/meta-data/", "not a public address"),
        ("https://localhost:8000/hook", "not a public address"),
        ("https://127.0.0.1/hook", "not a public address"),
        ("https://10.1.2.3/hook", "not a public address"),
        ("https://192.168.0.10/hook", "not a public address"),
        ("https://[::1]/hook", "not a public address"),
        ("https://[fe80::1]/hook", "not a public address"),
        ("https://[::ffff:127.0.0.1]/hook", "not a public address"),
        ("https://user:secret@93.184.216.34/hook", "user name or password"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_a_webhook_into_the_services_own_network_is_refused(
    production: tuple[TestClient, dict[str, str]], url: str, why: str
) -> None:
    client, headers = production
    response = client.put("/v1/webhook", json={"url": url}, headers=headers)
    assert response.status_code == 422, response.text
    [detail] = response.json()["error"]["details"]
    assert detail["loc"] == "url" and why in detail["message"]
    assert client.get("/v1/webhook", headers=headers).json() == {"url": None}


def test_a_public_https_webhook_is_taken_with_a_new_secret_each_time(
    production: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = production
    first = client.put("/v1/webhook", json={"url": PUBLIC}, headers=headers).json()
    assert first["url"] == PUBLIC and first["secret"].startswith("whsec_")
    assert first["signature_header"] == "Carerota-Signature"
    second = client.put("/v1/webhook", json={"url": PUBLIC}, headers=headers).json()
    assert second["secret"] != first["secret"]
    # The secret is shown once: reading the webhook back gives the URL alone.
    assert client.get("/v1/webhook", headers=headers).json() == {"url": PUBLIC}
    cleared = client.put("/v1/webhook", json={"url": None}, headers=headers).json()
    assert cleared == {"url": None, "secret": None, "signature_header": None}


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_body() -> None:
    body = b'{"event":"rota.resolved"}'
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("whsec_k", 1_700_000_000, body) == f"t=1700000000,v1={expected}"
    delivery = prepare(PUBLIC, "whsec_k", {"b": 1, "a": [2]})
    assert delivery.body == b'{"a":[2],"b":1}'
    stamp = delivery.signature.partition(",")[0].removeprefix("t=")
    assert delivery.signature == sign("whsec_k", int(stamp), delivery.body)


@pytest.mark.parametrize(
    "url", ["https://localhost:9/hook", "http://93.184.216.34/hook", "https://u:p@1.1.1.1/"]
)
def test_delivery_checks_again_after_resolving_the_name(url: str) -> None:
    # A URL stored before these rules, or a name that now resolves inside: never called.
    with pytest.raises(UnsafeWebhook):
        deliver(Delivery(url, b"{}", "t=0,v1=0"), timeout=1, allow_insecure=False)
