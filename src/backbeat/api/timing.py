"""`Server-Timing: limiter;dur=<ms>` on every API response: the time its upstream calls waited
for budget (see backbeat.upstream.timing). A pure ASGI middleware: the header is added as the
response starts, and streaming bodies pass untouched."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backbeat.upstream import timing


class LimiterTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with timing.measure() as waits:

            async def start_with_timing(message: Message) -> None:
                if message["type"] == "http.response.start":
                    value = f"limiter;dur={sum(waits) * 1000:.1f}".encode()
                    message["headers"] = [*message.get("headers", []), (b"server-timing", value)]
                await send(message)

            await self.app(scope, receive, start_with_timing)
