"""Fuzzing a real ``carerota serve`` from its own OpenAPI document (schemathesis over HTTP).

The in-process run (test_api_fuzz.py) finds server errors; this one holds the service to its
document as well: every status, content type, header and body an operation answers must be one
the document declares (schemathesis's default checks), over a real socket, through uvicorn and
every middleware. Jobs queue but the queue is small, so the run stays quick.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.harness import Server, create_agency_key

MAX_EXAMPLES = 15


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[str, dict[str, str]]]:
    """``carerota serve`` on a fresh SQLite file (no rate limits: hundreds of requests with one
    key would be 429s, not the handlers' answers), and an agency's authorization header."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/live.db",
            "CAREROTA_MAX_QUEUED_JOBS": "3",
            "CAREROTA_LOCAL_WORKERS": "1",
            "CAREROTA_SOLVER_THREADS": "1",
            "CAREROTA_DEFAULT_TIME_LIMIT": "1",
            "CAREROTA_RATE_LIMIT_PER_MINUTE": "0",
            "CAREROTA_JOB_RATE_LIMIT_PER_MINUTE": "0",
            "CAREROTA_LOG_LEVEL": "warning",
        }
        server = Server(env, Path(tmp) / "serve.log")
        server.start()
        try:
            key = create_agency_key(env, "Fuzzed Homecare")
            yield server.url, {"Authorization": f"Bearer {key}"}
        finally:
            server.stop()


def test_the_live_service_answers_as_its_document_says(live: tuple[str, dict[str, str]]) -> None:
    url, headers = live
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: dict[str, str] = {}
    for found in schema.get_all_operations():
        if isinstance(found, Err):
            failures[f"the document ({len(failures)})"] = str(found.err())
            continue
        operation = found.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: Any) -> None:
            case.call_and_validate(
                base_url=url, headers=headers, excluded_checks=[positive_data_acceptance]
            )

        try:
            call()
        # Every operation is tried and the failures are listed together (schemathesis's
        # FailureGroup is a BaseExceptionGroup; an assertion of hypothesis's, an Exception).
        except (FailureGroup, Exception) as exc:
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
