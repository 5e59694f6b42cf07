"""API keys from the command line: rotate, list, revoke; a revoked key is refused with 401.

Runs on both backends' databases (no solves: the API runs with a runner that holds every job).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

import api.deps
from api.app import create_app
from api.settings import Settings
from carerota.cli import main
from tests.api.service import Backend, HeldRunner

NAME = "Keyholders Care"


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture
def url(backend: Backend) -> str:
    return backend.with_settings().database_url


@pytest.fixture
def client(url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=url), runner=HeldRunner())) as c:
        yield c


def run(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> str:
    assert main([*argv, "--database-url", url]) == 0
    return capsys.readouterr().out


def status(client: TestClient, key: str) -> int:
    response = client.get("/v1/rotas", headers={"Authorization": f"Bearer {key}"})
    if response.status_code == 401:
        assert response.json()["error"]["code"] == "unauthorized"
    return response.status_code


def live_ids(capsys: pytest.CaptureFixture[str], url: str) -> list[str]:
    lines = run(capsys, url, "agency", "keys", NAME).splitlines()
    return [line.split()[0] for line in lines if line.endswith("live")]


def test_rotate_then_revoke_all_but_newest(
    url: str, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    first = one_line(run(capsys, url, "agency", "create", NAME))
    second = one_line(run(capsys, url, "agency", "rotate-key", NAME))
    assert second.startswith("crk_") and second != first
    # Rotation alone takes nothing away: both keys work.
    assert status(client, first) == status(client, second) == 200
    ids = live_ids(capsys, url)
    assert len(ids) == 2

    revoked = run(capsys, url, "agency", "revoke-key", NAME, "--all-but-newest").splitlines()
    assert revoked == ids[:1] and live_ids(capsys, url) == ids[1:]
    # A fresh API process (nothing cached) refuses the old key at once, keeps the new one.
    with TestClient(create_app(Settings(database_url=url), runner=HeldRunner())) as fresh:
        assert status(fresh, first) == 401
        assert status(fresh, second) == 200


def test_revoking_takes_effect_within_the_cache_ttl(
    url: str,
    client: TestClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = one_line(run(capsys, url, "agency", "create", NAME))
    assert status(client, key) == 200  # now remembered by this process
    assert run(capsys, url, "agency", "revoke-key", NAME, key).strip()
    # Documented: a process that saw the key moments ago may accept it until its entry expires.
    later = time.monotonic() + api.deps.CREDENTIAL_TTL + 1
    monkeypatch.setattr(api.deps.time, "monotonic", lambda: later)
    assert status(client, key) == 401


def test_revoke_by_id_prefix(
    url: str, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    first = one_line(run(capsys, url, "agency", "create", NAME))
    second = one_line(run(capsys, url, "agency", "rotate-key", NAME))
    oldest = live_ids(capsys, url)[0]
    assert run(capsys, url, "agency", "revoke-key", NAME, oldest[:10]).split() == [oldest]
    assert status(client, first) == 401  # never used before, so never cached
    assert status(client, second) == 200
    listing = run(capsys, url, "agency", "keys", NAME)
    assert first not in listing and second not in listing  # keys are never shown again


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["revoke-key", NAME], "name one key"),
        (["revoke-key", NAME, "key_", "--all-but-newest"], "name one key"),
        (["revoke-key", NAME, "key_"], "2 live keys of 'Keyholders Care' match"),
        (["revoke-key", NAME, "crk_unknown"], "no live key of 'Keyholders Care' matches"),
        (["revoke-key", "Nobody", "--all-but-newest"], "no agency called 'Nobody'"),
        (["rotate-key", "Nobody"], "no agency called 'Nobody'"),
        (["keys", "Nobody"], "no agency called 'Nobody'"),
    ],
)
def test_key_mistakes_are_one_line_and_exit_2(
    url: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    run(capsys, url, "agency", "create", NAME)
    run(capsys, url, "agency", "rotate-key", NAME)
    with pytest.raises(SystemExit) as exit_:
        main(["agency", *argv, "--database-url", url])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert one_line(err).startswith(f"carerota: error: {message}")
