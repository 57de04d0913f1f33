"""ASGI middleware: trailing slashes as spotipy sends them, and the final status of every call."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backbeat.simulator.stats import Stats


class SimulatorMiddleware:
    def __init__(self, app: ASGIApp, stats: Stats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            # Spotify serves `/v1/me/` like `/v1/me`; routing here must not redirect instead.
            scope = {**scope, "path": path.rstrip("/"), "raw_path": path.rstrip("/").encode()}
        state = scope.setdefault("state", {})
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            call = state.get("sim_call")
            if call is not None:
                self.stats.responded(call.app, call.endpoint, call.op_class, status)
