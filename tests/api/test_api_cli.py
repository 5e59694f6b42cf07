"""``carerota agency`` and ``carerota worker`` on the command line, and the schema migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient

from api.app import create_app
from api.db import Base, Database, migrate
from api.settings import Settings
from carerota.cli import main
from tests.api.service import Backend, HeldRunner


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_agency_create_prints_only_a_working_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    assert main(["agency", "create", "Northside Homecare", "--database-url", url]) == 0
    out, err = capsys.readouterr()
    key = one_line(out)
    assert key.startswith("crk_") and len(key) > 40
    assert key not in err
    assert main(["agency", "key", "Northside Homecare", "--database-url", url]) == 0
    second = one_line(capsys.readouterr().out)
    assert second != key
    with TestClient(create_app(Settings(database_url=url), runner=HeldRunner())) as client:
        for k in (key, second):
            response = client.get("/v1/rotas", headers={"Authorization": f"Bearer {k}"})
            assert response.status_code == 200


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["agency", "create", "Twice"], "agency 'Twice' already exists"),
        (["agency", "key", "Nobody"], "no agency called 'Nobody'"),
        (["agency", "create", "  "], "an agency needs a name"),
    ],
)
def test_agency_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    main(["agency", "create", "Twice", "--database-url", url])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--database-url", url])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert one_line(err).startswith(f"carerota: error: {message}")


def test_worker_needs_a_broker(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CAREROTA_BROKER_URL", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["worker", "--database-url", "sqlite:///unused.db"])
    assert exit_.value.code == 2
    assert "CELERY_BROKER_URL" in one_line(capsys.readouterr().err)


def test_migrations_build_exactly_the_models(backend: Backend) -> None:
    """The Alembic migrations and the SQLAlchemy models describe the same schema."""
    settings = backend.with_settings()
    migrate(settings.database_url)
    migrate(settings.database_url)  # a second run is a no-op
    db = Database(settings.database_url)
    try:
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        db.dispose()
