"""ASGI middleware: a request-body size limit answering 413 in the API's error shape, and a
``Server-Timing`` header.

The size limit refuses at once when ``Content-Length`` is over the limit, and otherwise counts
the bytes as the application reads them, so a chunked upload without a length is cut off too.
"""

from __future__ import annotations

import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


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
