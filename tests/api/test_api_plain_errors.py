"""Small refusals worded for people: the wrong media type, an empty file, sizes in MiB."""

from __future__ import annotations

from pathlib import Path

import pytest

from carerota.cli import main
from tests.api.service import Service


@pytest.mark.parametrize(
    ("method", "url"),
    [("POST", "/v1/absences"), ("PUT", "/v1/webhook"), ("POST", "/v1/links/revoke")],
)
def test_a_text_plain_body_is_415_naming_the_type(service: Service, method: str, url: str) -> None:
    headers = service.agency() | {"Content-Type": "text/plain"}
    response = service.client.request(method, url, content=b'{"all": true}', headers=headers)
    assert response.status_code == 415, response.text
    assert response.json()["error"] == {
        "code": "unsupported_media_type",
        "message": "send the body as application/json, not 'text/plain'",
        "details": [],
    }
    # The same body as JSON is read (and judged on its content).
    response = service.client.request(
        method,
        url,
        content=b'{"all": true}',
        headers=headers | {"Content-Type": "application/json"},
    )
    assert response.status_code != 415


@pytest.mark.parametrize("command", ["solve", "check", "whatif"])
def test_an_empty_file_is_called_empty(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("\n")
    args = {
        "solve": ["solve", str(empty), "-o", str(tmp_path / "rota.json")],
        "check": ["check", str(empty), str(empty)],
        "whatif": ["whatif", str(empty), "-o", str(tmp_path / "out")],
    }[command]
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{empty}: the file is empty" in err
