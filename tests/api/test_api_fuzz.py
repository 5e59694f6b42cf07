"""Fuzzing the API from its own OpenAPI document (schemathesis), in process, on SQLite.

Each operation gets a bounded number of generated requests, carrying a valid API key so they
reach the handlers. Whatever comes in: never a 5xx, and every 4xx in the one error shape. Jobs
are held in the queue (no solves), so the run is quick and deterministic in cost.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from api.app import create_app
from api.settings import Settings
from tests.api.service import HeldRunner, agency_headers

MAX_EXAMPLES = 25


# The schema is read when the module loads, so the app is built then; its database goes in a
# folder of its own that the fixture removes.
FOLDER = Path(tempfile.mkdtemp(prefix="carerota-fuzz-"))
# No rate limits: hundreds of requests with one key would otherwise be 429s, not handlers' answers.
CONFIG = Settings(
    database_url=f"sqlite:///{FOLDER}/fuzz.db",
    max_queued_jobs=5,
    rate_limit_per_minute=0,
    job_rate_limit_per_minute=0,
)
APP = create_app(CONFIG, runner=HeldRunner())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def key() -> Iterator[dict[str, str]]:
    """The app started (migrated, jobs held), and an agency's authorization header."""
    try:
        with TestClient(APP):
            yield agency_headers(CONFIG)
    finally:
        shutil.rmtree(FOLDER, ignore_errors=True)


def assert_error_shape(body: Any) -> None:
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, body
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    for detail in error["details"]:
        assert set(detail) == {"loc", "message"}, body


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_one_error_shape(case: Any, key: dict[str, str]) -> None:
    response = case.call(headers=key)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if response.status_code >= 400:
        assert_error_shape(response.json())
