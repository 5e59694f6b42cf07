"""Revocation that holds on every API process at once, not when a cached credential expires.

Each API process remembers recently seen credentials (``api.deps.CredentialCache``) so most
requests check their key without a query. Keys are revoked and agencies deleted by another
process (``carerota agency revoke-key``, ``carerota agency delete``, or another API process),
so every API process watches a fingerprint of the credential tables in the database they share,
twice a second: the count and the latest creation and revocation of API keys, the count of
agencies, and the count and latest revocation of carer links. Any change (a key or link
revoked, an agency deleted) empties the process's cache, and the next request of a revoked
credential reaches the database and is refused (:func:`watch` says why that is enough).

The fingerprint is one query over small tables, and the database is the one place every kind of
deployment shares (SQLite with local solve processes as well as PostgreSQL with Redis), so the
guarantee holds without Redis, and holds while Redis restarts. In production (a Redis broker)
whoever revokes also announces it on a Redis channel (:func:`announce`), and every API process
listening (:func:`listen`) empties its cache at once, without waiting for its next check.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any, Final

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select

from api.db import Agency, ApiKey, CarerToken, Database
from api.deps import CredentialCache
from api.settings import Settings

log = logging.getLogger("carerota.api")

CHANNEL: Final = "carerota:credentials-revoked"


def fingerprint(db: Database) -> tuple[Any, ...]:
    """What changes whenever a credential stops being valid: a revocation (of a key or a carer
    link) moves the latest ``revoked_at``, a deletion lowers a count (a key made in the same
    instant moves the latest ``created_at`` instead)."""
    with db.read() as s:
        keys = s.execute(
            select(func.count(ApiKey.id), func.max(ApiKey.created_at), func.max(ApiKey.revoked_at))
        ).one()
        agencies = s.scalar(select(func.count(Agency.id)))
        links = s.execute(select(func.count(CarerToken.id), func.max(CarerToken.revoked_at))).one()
    return (*keys, agencies, *links)


class WatchedCache(CredentialCache):
    """The credential cache, kept honest by :func:`watch`."""

    def forget_since(self, moment: float) -> None:
        """Drop the credentials cached after ``moment`` (``time.monotonic()``); all of them
        with ``-inf``."""
        with self._lock:
            # An entry expires ``ttl`` after it was cached.
            horizon = moment + self.ttl
            self._items = {k: item for k, item in self._items.items() if item[0] <= horizon}


async def watch(db: Database, interval: float, cache: WatchedCache) -> None:
    """Keep ``cache`` to credentials still valid, checking every ``interval`` seconds.

    A changed fingerprint empties the cache. An unchanged one still drops what was cached since
    the check before: an agency made and deleted between two checks leaves the fingerprint as
    it was, and only a credential cached in that time can be one of its keys (one made earlier
    was in the earlier fingerprint, and its deletion changes the count). So a credential is
    trusted at most about two intervals after it stops being valid.

    Runs for the life of the app (cancelled at shutdown). A failed check (the database
    restarting) is logged and retried; it never stops the watch.
    """
    checked = time.monotonic()
    seen = await run_in_threadpool(fingerprint, db)
    while True:
        await asyncio.sleep(interval)
        began = time.monotonic()
        try:
            now = await run_in_threadpool(fingerprint, db)
        except Exception as exc:
            log.warning("could not check for revoked credentials: %r", exc)
            cache.forget_since(-math.inf)  # not knowing is no reason to trust what was cached
            continue
        cache.forget_since(checked if now == seen else -math.inf)
        seen, checked = now, began


def announce(settings: Settings) -> None:
    """Tell every API process that credentials were revoked (with a Redis broker; without one,
    or when Redis does not answer, they notice by their next check anyway)."""
    if not settings.uses_celery:
        return
    import redis

    client = redis.Redis.from_url(settings.broker_url, socket_timeout=1.0)
    try:
        client.publish(CHANNEL, "revoked")
    except redis.RedisError as exc:
        log.warning("could not announce a revocation through Redis: %r", exc)
    finally:
        client.close()


async def listen(url: str, cache: WatchedCache) -> None:
    """Empty ``cache`` whenever a revocation is announced on Redis at ``url``.

    Runs for the life of the app (cancelled at shutdown); a lost connection is made again a
    second later, and :func:`watch` covers what was announced meanwhile.
    """
    import redis.asyncio

    while True:
        client = redis.asyncio.Redis.from_url(url)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        cache.forget_since(-math.inf)
        except redis.RedisError as exc:
            log.warning("not listening for revocations on Redis: %r", exc)
            await asyncio.sleep(1.0)
        finally:
            await client.aclose()
