"""Typed dependencies, in one place: settings, database, runner, and who is asking.

Routers declare what they need with the ``...Dep`` aliases; tests swap any of them through
``app.dependency_overrides`` or by handing :func:`api.app.create_app` their own settings and
runner, never by patching internals.

The dependencies here are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool,
a hop that costs more than the work for reading ``app.state``. Credentials are remembered for
``CREDENTIAL_TTL`` seconds (keyed by their hash), so most requests check their key without a
query; an unknown key always reaches the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final, Literal

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from api.access_log import Reader
from api.db import Agency, ApiKey, CarerToken, Database, utcnow
from api.errors import ApiError
from api.jobs import JobRunner
from api.security import CARER_TOKEN_PREFIX, digest
from api.settings import Settings

CREDENTIAL_TTL: Final = 30.0
_CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.runner
    return runner


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]


@dataclass(frozen=True)
class AgencyRef:
    """The agency a request acts for, and the API key it came with."""

    id: str
    name: str
    key_id: str

    @property
    def reader(self) -> Reader:
        return Reader(self.id, "api_key", self.key_id)


@dataclass(frozen=True)
class SheetAccess:
    """Who may read run sheets: a whole agency, or one carer (``worker`` set, by their link).

    ``credential_id`` is the API key's id, or the carer link's when ``worker`` is set. A link
    opens its worker's sheets in the versions the agency published and in ``version``, the one
    it was made from (see :func:`api.carers.opens`).
    """

    agency_id: str
    credential_id: str
    worker: str | None = None
    version: str | None = None
    expires_at: datetime | None = None

    @property
    def is_carer(self) -> bool:
        return self.worker is not None

    @property
    def reader(self) -> Reader:
        kind: Literal["api_key", "carer_link"] = "carer_link" if self.is_carer else "api_key"
        return Reader(self.agency_id, kind, self.credential_id)


class CredentialCache:
    """Recently seen credentials by hash: an agency for a key, a scope for a carer link."""

    def __init__(self, ttl: float = CREDENTIAL_TTL, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._items: dict[str, tuple[float, AgencyRef | SheetAccess]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> AgencyRef | SheetAccess | None:
        item = self._items.get(key_hash)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, key_hash: str, value: AgencyRef | SheetAccess) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()  # rare; simpler than an LRU and just as safe
            self._items[key_hash] = (time.monotonic() + self.ttl, value)

    def forget(self, key_hashes: Iterable[str]) -> None:
        """Drop these credentials at once (a revoked link must not live out its TTL here)."""
        with self._lock:
            for key_hash in key_hashes:
                self._items.pop(key_hash, None)


def _lookup(db: Database, key_hash: str) -> AgencyRef | SheetAccess | None:
    with db.read() as s:
        row = s.execute(
            select(Agency.id, Agency.name, ApiKey.id.label("key_id"))
            .join(ApiKey, ApiKey.agency_id == Agency.id)
            .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        ).one_or_none()
        if row is not None:
            return AgencyRef(row.id, row.name, row.key_id)
        token = s.scalar(
            select(CarerToken).where(
                CarerToken.token_hash == key_hash, CarerToken.revoked_at.is_(None)
            )
        )
        if token is not None:
            return SheetAccess(
                token.agency_id, token.id, token.worker_id, token.version_id, token.expires_at
            )
    return None


async def _identify(request: Request, secret: str) -> AgencyRef | SheetAccess | None:
    cache: CredentialCache = request.app.state.credentials
    key_hash = digest(secret)
    found = cache.get(key_hash)
    if found is None:
        found = await run_in_threadpool(_lookup, request.app.state.db, key_hash)
        if found is not None:
            cache.put(key_hash, found)
    return found


bearer = HTTPBearer(
    auto_error=False,
    description="An agency's API key (crk_...), or for run sheets a carer's link token (crc_...)",
)
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def current_agency(request: Request, credentials: CredentialsDep) -> AgencyRef:
    """The agency whose API key the request carries (401 without a valid one)."""
    if credentials is None:
        raise ApiError(
            401, "missing API key: send 'Authorization: Bearer <key>'", headers=_CHALLENGE
        )
    found = await _identify(request, credentials.credentials)
    if isinstance(found, SheetAccess):
        # Only a real link earns the 403: a made-up one is as unknown as a made-up key.
        raise ApiError(403, "a carer's link opens only that carer's run sheet and calendar")
    if found is None:
        raise ApiError(401, "unknown or revoked API key", headers=_CHALLENGE)
    request.state.reader = found.reader  # for the access log (api.access_log)
    return found


AgencyDep = Annotated[AgencyRef, Depends(current_agency)]


async def sheet_access(
    request: Request,
    credentials: CredentialsDep,
    token: Annotated[
        str | None,
        Query(description="a carer's link token, for calendar apps that cannot send headers"),
    ] = None,
) -> SheetAccess:
    """An API key, or a carer link token from the ``token`` query parameter or the header."""
    secret = token or (credentials.credentials if credentials is not None else None)
    if secret is None:
        raise ApiError(401, "missing API key or carer link token", headers=_CHALLENGE)
    found = await _identify(request, secret)
    if isinstance(found, AgencyRef):
        found = SheetAccess(found.id, found.key_id)
    elif found is None:
        what = "carer link token" if secret.startswith(CARER_TOKEN_PREFIX) else "API key"
        raise ApiError(401, f"unknown or revoked {what}", headers=_CHALLENGE)
    elif found.expires_at is not None and found.expires_at <= utcnow():
        raise ApiError(401, "this carer link has expired; ask the office for a new one")
    request.state.reader = found.reader  # for the access log (api.access_log)
    return found


SheetAccessDep = Annotated[SheetAccess, Depends(sheet_access)]
