"""The FastAPI application: ``create_app(settings)`` builds one (``carerota serve`` runs it)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi

from api import docs, errors
from api.access_log import AccessLogMiddleware, AccessLogWriter, logged_routes
from api.board.rota import router as board_rota_router
from api.board.router import router as board_router
from api.db import Database, migrate
from api.errors import ErrorBody
from api.jobs import JobRunner, LocalProcessRunner
from api.middleware import (
    BodySizeLimit,
    KeysInHeaderOnly,
    RateLimit,
    SecurityHeaders,
    ServerTiming,
    job_routes,
    make_limiter,
    redact_server_logs,
)
from api.parsing import Readers, Turns
from api.revocation import WatchedCache, listen, watch
from api.routers import (
    absences,
    access_log,
    carers,
    clients,
    health,
    imports,
    plans,
    records,
    rotas,
    runsheets,
    scenarios,
)
from api.schemas import RotaRequest
from api.settings import Settings

log = logging.getLogger("carerota.api")

DESCRIPTION = """
Rota optimisation for home-care agencies, as a service.

Ask for a rota (`POST /v1/rotas`), watch it improve (`GET /v1/rotas/{id}` or its `events`),
publish it, and hand each carer their run sheet and calendar. Every request carries an
agency's API key (`Authorization: Bearer crk_...`); a carer's link token opens only that carer's
run sheet and calendar. Errors share one shape: `{"error": {"code", "message", "details"}}`.
"""


def _version() -> str:
    try:
        return version("carerota")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def default_runner(settings: Settings, db: Database) -> JobRunner:
    """Celery when a broker URL is set, else solve processes beside the web process."""
    if settings.uses_celery:
        from api.celery_app import CeleryRunner

        return CeleryRunner(settings, db)
    return LocalProcessRunner(settings, db)


def create_app(settings: Settings | None = None, *, runner: JobRunner | None = None) -> FastAPI:
    """The API for ``settings`` (from the environment by default).

    Starting it (its lifespan) migrates the database, recovers jobs a previous run left behind
    and starts the runner; ``runner`` replaces the default one (tests hand in their own).
    """
    settings = settings or Settings()
    db = Database(settings.database_url)
    # SQL parameters are care plans and addresses: the service never logs statements, whatever
    # the log level (at DEBUG the root logger would otherwise let SQLAlchemy's through).
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    access = AccessLogWriter(db, settings.access_log_flush_interval)
    limiter = make_limiter(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.parsing = Turns()
        app.state.admitting = 0
        await run_in_threadpool(migrate, settings.database_url)
        redact_server_logs()  # now: uvicorn has configured its loggers by the time we start
        access.start()
        active = runner or default_runner(settings, db)
        app.state.runner = active
        await run_in_threadpool(active.start)
        revocations = [
            asyncio.create_task(
                watch(db, settings.credential_check_interval, app.state.credentials)
            )
        ]
        if settings.uses_celery:
            # Announced revocations (api.revocation.announce) empty the cache at once.
            announced = listen(settings.broker_url, app.state.credentials)
            revocations.append(asyncio.create_task(announced))
        # Everything loaded so far lives as long as the process. Frozen, it is left out of the
        # collector's full passes, which would otherwise stall a request for ~50 ms now and then.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for task in revocations:
                task.cancel()
            app.state.readers.close()
            await run_in_threadpool(active.stop)
            await run_in_threadpool(access.stop)
            await limiter.close()
            db.dispose()

    app = FastAPI(
        title="carerota",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by api.docs from the package's own files, not from a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.db = db
    app.state.runner = runner
    app.state.credentials = WatchedCache()
    app.state.readers = Readers(settings.reading_processes)
    app.state.access_log = access
    errors.install(app)
    app.include_router(health.router)
    app.include_router(rotas.router, prefix="/v1")
    app.include_router(runsheets.router, prefix="/v1")
    app.include_router(carers.router, prefix="/v1")
    app.include_router(absences.router, prefix="/v1")
    app.include_router(clients.router, prefix="/v1")
    app.include_router(scenarios.router, prefix="/v1")
    app.include_router(access_log.router, prefix="/v1")
    app.include_router(records.router, prefix="/v1")
    app.include_router(plans.router, prefix="/v1")
    app.include_router(imports.router, prefix="/v1")
    app.include_router(board_router)
    app.include_router(board_rota_router)
    app.include_router(docs.router)
    # Each route declares its own policies (api.access_log.logged, api.middleware.queues_job);
    # the middleware's tables are read from the routes, so they are added after them. The last
    # added runs first: headers on every answer, time everything, refuse over-budget keys before
    # anything else, and keys in URLs before the body is read.
    app.add_middleware(AccessLogMiddleware, writer=access, actions=logged_routes(app.routes))
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(KeysInHeaderOnly)
    app.add_middleware(RateLimit, limiter=limiter, settings=settings, jobs=job_routes(app.routes))
    app.add_middleware(ServerTiming)
    app.add_middleware(SecurityHeaders)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_with_request_bodies(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def openapi_with_request_bodies(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI document, plus the schemas of bodies the endpoints parse themselves."""
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    request = RotaRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in request.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components["RotaRequest"] = request
    _declare_rate_limits(schema, components)
    return schema


_RATE_LIMITED: Final = "over the key's rate limit (CAREROTA_RATE_LIMIT_*); see Retry-After"


def _declare_rate_limits(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """A 429 on every operation that takes a credential: the rate limit answers before it."""
    components.setdefault(
        "ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for operations in schema["paths"].values():
        for operation in operations.values():
            if "security" not in operation:
                continue
            responses = operation.setdefault("responses", {})
            known = responses.get("429")
            responses["429"] = {
                "description": _RATE_LIMITED
                if known is None
                else f"{known['description']}; or {_RATE_LIMITED}",
                "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                },
            }
