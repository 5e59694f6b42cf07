"""What wraps every request: a body size limit (413), rate limits per key (429), API keys kept
out of URLs (401), a ``Server-Timing`` header, security headers on every page, and a log filter
that keeps secrets out of the web server's log.

The size limit refuses at once when ``Content-Length`` is over the limit, and otherwise counts
the bytes as the application reads them, so a chunked upload without a length is cut off too.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response, mib
from api.security import API_KEY_PREFIX, digest
from api.settings import Settings

log = logging.getLogger("carerota.api")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {mib(limit)}")


class BodySizeLimit:
    """ASGI middleware: 413 for request bodies over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    response = error_response(
                        413, "payload_too_large", BodyTooLarge(self.limit).detail
                    )
                    await response(scope, receive, send)
                    return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # Raised inside the app's body read: FastAPI passes HTTPExceptions through to
                    # the error handlers, which write the 413 in the one error shape.
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counting_receive, send)


class ServerTiming:
    """ASGI middleware: a ``Server-Timing: app;dur=<ms>`` header on every response.

    The time runs from the request's arrival to the start of the response, so a client (or the
    load benchmark) can tell the service's own time from time spent in the network or queues.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - began) * 1000
                headers = [*message.get("headers", ()), (b"server-timing", b"app;dur=%.2f" % took)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


# ---------------------------------------------------------------------------------------------
# Headers and where keys may travel

# Pages the service renders itself (run sheets): no scripts at all, styles only inline (a run
# sheet carries its own), nothing loaded from elsewhere, never framed.
PAGE_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# The API docs are Swagger UI and ReDoc from the package's own files (api.docs): scripts and
# styles from this origin, each page starting with an inline script; ReDoc runs a worker.
DOCS_POLICY: Final = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DOCS_PATHS: Final = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


class SecurityHeaders:
    """ASGI middleware: ``X-Content-Type-Options: nosniff`` on every response, and a
    Content-Security-Policy on every HTML page that has none of its own (the board sets its own).

    A care plan or client name holding markup is escaped on every page; the policy means that
    even one that slipped through could run no script and load nothing.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] in DOCS_PATHS else PAGE_POLICY

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                kind = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if kind.startswith(b"text/html") and b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", policy.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, guarded_send)


class KeysInHeaderOnly:
    """ASGI middleware: 401 for an agency API key in the query string (``?token=crk_...``).

    A URL ends up in proxy logs, browser history and Referer headers; an agency key opens every
    client's care plan, so it travels only in the Authorization header. Carer links, which open
    one carer's run and are made to be pasted into calendar apps, may still use ``?token=``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"").decode("latin-1")
            if any(value.strip().startswith(API_KEY_PREFIX) for _, value in parse_qsl(query)):
                response = error_response(
                    401,
                    "unauthorized",
                    "an agency's API key goes in the 'Authorization: Bearer' header, never in a "
                    "URL; revoke this key if the URL was shared or logged",
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# ---------------------------------------------------------------------------------------------
# Rate limits


@dataclass(frozen=True)
class Rate:
    """``per_minute`` requests a minute, sustained, after a first ``burst`` at once."""

    name: str
    per_minute: int
    burst: int

    @property
    def interval(self) -> float:
        """Seconds between requests at the sustained rate."""
        return 60.0 / self.per_minute


class Limiter(Protocol):
    async def wait(self, key: str, rate: Rate) -> float:
        """Take one request from ``key``'s budget: 0 if allowed, else seconds until it would be."""
        ...

    async def close(self) -> None: ...


class LocalLimiter:
    """Budgets in this process's memory: right when one process serves (the local broker).

    The generic cell rate algorithm: each key keeps the time its budget is next full ("tat");
    a request moves it on by one interval and is refused while that would put it more than
    ``burst`` intervals ahead of now. Exact, one number per key, no timers.
    """

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._tat: dict[tuple[str, str], float] = {}

    async def wait(self, key: str, rate: Rate) -> float:
        now = time.monotonic()
        bucket = (rate.name, key)
        tat = max(self._tat.get(bucket, now), now) + rate.interval
        allowed_at = tat - rate.burst * rate.interval
        if now < allowed_at:
            return allowed_at - now
        if len(self._tat) >= self.size:
            # Keys whose budget is full again remember nothing worth keeping.
            self._tat = {k: t for k, t in self._tat.items() if t > now}
        self._tat[bucket] = tat
        return 0.0

    async def close(self) -> None:
        pass


# The same algorithm, atomic in Redis, on Redis's clock: every web process shares one budget per
# key, and their own clocks may disagree. KEYS[1] holds the tat in milliseconds; ARGV are the
# interval (ms) and the burst. Returns the milliseconds to wait, 0 when allowed.
_GCRA: Final = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local interval = tonumber(ARGV[1])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now) + interval
local allowed_at = tat - tonumber(ARGV[2]) * interval
if now < allowed_at then
  return math.ceil(allowed_at - now)
end
redis.call('SET', KEYS[1], tat, 'PX', math.max(1, math.ceil(tat - now)))
return 0
"""


class RedisLimiter:
    """Budgets in Redis, shared by every web process (production: ``CELERY_BROKER_URL``).

    When Redis cannot be reached requests are let through: the limit guards capacity, and a
    service that refused everything while Redis restarts would be the outage it guards against.
    """

    def __init__(self, url: str, prefix: str = "carerota:rate") -> None:
        self.url, self.prefix = url, prefix
        self._client: Any = None
        self._script: Any = None
        self._warned = 0.0

    async def wait(self, key: str, rate: Rate) -> float:
        if self._client is None:
            # Made on first use, inside the event loop that will use it.
            import redis.asyncio

            self._client = redis.asyncio.Redis.from_url(self.url, socket_timeout=1.0)
            self._script = self._client.register_script(_GCRA)
        try:
            ms = await self._script(
                keys=[f"{self.prefix}:{rate.name}:{key}"],
                args=[rate.interval * 1000, rate.burst],
            )
        except Exception as exc:
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning("rate limits are off while Redis does not answer: %r", exc)
            return 0.0
        return int(ms) / 1000

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = self._script = None


def make_limiter(settings: Settings) -> Limiter:
    """Redis when the broker is Redis (several web processes share it), else this process."""
    return RedisLimiter(settings.broker_url) if settings.uses_celery else LocalLimiter()


# The key of a route's ``openapi_extra`` that says a POST of it queues a solve (or what-if) job:
# the expensive requests, with a budget of their own on top of the one every request takes from.
QUEUES_JOB: Final = "x-queues-job"
UNLIMITED: Final = frozenset({"/healthz", "/readyz"})


def queues_job() -> dict[str, Any]:
    """The ``openapi_extra`` of a POST route that queues a job (the job submissions' budget)."""
    return {QUEUES_JOB: True}


def declared(routes: Iterable[BaseRoute], key: str) -> Iterator[tuple[str, set[str], Any]]:
    """(path, methods, value) of every API route of the app that declares ``key`` in its
    ``openapi_extra``, through the routers included in it (paths with their prefixes)."""
    for context in iter_route_contexts(list(routes)):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path and key in (route.openapi_extra or {}):
            assert route.openapi_extra is not None
            yield context.path, set(route.methods or ()), route.openapi_extra[key]


def job_routes(routes: Iterable[BaseRoute]) -> frozenset[str]:
    """The paths of the POST routes among ``routes`` that declare they queue a job."""
    return frozenset(
        path for path, methods, value in declared(routes, QUEUES_JOB) if "POST" in methods and value
    )


def credentials(scope: Scope) -> set[str]:
    """The request's bearer secret and ``?token=``, whichever it has.

    Both count: were only one of them charged, a made-up value in the other could pick which
    budget a request is charged to.
    """
    found = set()
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and secret.strip():
                found.add(secret.strip())
    query = scope.get("query_string", b"").decode("latin-1")
    found.update(value for name, value in parse_qsl(query) if name == "token" and value)
    return found


class RateLimit:
    """ASGI middleware: 429 with ``Retry-After`` once a key has used its budget.

    Budgets are per credential (API key or carer link, by the secret's digest), not per address:
    an office behind one NAT address is many people, and a key is what a client is. Requests
    without a credential are not counted; they are refused with 401 before any database work.
    """

    def __init__(
        self, app: ASGIApp, limiter: Limiter, settings: Settings, jobs: frozenset[str]
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.jobs = jobs  # paths whose POST queues a job: job_routes(app.routes)
        self.rates: list[Rate] = []
        self.job_rates: list[Rate] = []
        if settings.rate_limit_per_minute:
            self.rates.append(
                Rate("all", settings.rate_limit_per_minute, settings.rate_limit_burst)
            )
        if settings.job_rate_limit_per_minute:
            self.job_rates.append(
                Rate("jobs", settings.job_rate_limit_per_minute, settings.job_rate_limit_burst)
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED:
            await self.app(scope, receive, send)
            return
        rates = self.rates
        if scope["method"] == "POST" and scope["path"].rstrip("/") in self.jobs:
            rates = [*rates, *self.job_rates]
        for secret in credentials(scope):
            key = digest(secret)[:32]
            for rate in rates:
                wait = await self.limiter.wait(key, rate)
                if wait > 0:
                    seconds = max(1, math.ceil(wait))
                    what = "job submissions" if rate.name == "jobs" else "requests"
                    response = error_response(
                        429,
                        "rate_limited",
                        f"too many {what} with this key: {rate.per_minute} a minute "
                        f"(bursts of {rate.burst}); try again in {seconds} s",
                        headers={"Retry-After": str(seconds)},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


# ---------------------------------------------------------------------------------------------
# Secrets in the web server's log

_SECRET: Final = re.compile(r"\b(crk|crc)_[A-Za-z0-9_-]+")
_TOKEN_PARAM: Final = re.compile(r"([?&]token=)[^&\s\"]*")


def redact(text: str) -> str:
    """``text`` with API keys and carer link tokens (and any ``token=`` value) blanked."""
    return _SECRET.sub(r"\1_[redacted]", _TOKEN_PARAM.sub(r"\1[redacted]", text))


class RedactSecrets(logging.Filter):
    """Blanks secrets in a log record: a carer's link puts its token in the URL (``?token=``,
    for calendar apps), and uvicorn's access log writes every URL in full."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_server_logs() -> None:
    """Put :class:`RedactSecrets` on uvicorn's loggers (once; uvicorn has configured them)."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
