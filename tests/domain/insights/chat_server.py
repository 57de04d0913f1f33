"""A tiny OpenAI-compatible chat-completions server for tests: it answers from a script of
replies (statuses, headers, delays, message contents) and records what it received."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response


@dataclass
class Reply:
    content: str | None = None  # the assistant message; None: `body` as is
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (real time: to trip the client's timeout)


def ok(content: Any) -> Reply:
    return Reply(content if isinstance(content, str) else json.dumps(content))


@dataclass
class ChatEndpoint:
    """What the server answers, in order (the last one again once the list is spent), and
    what it received."""

    replies: list[Reply] = field(default_factory=list)
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)

    def script(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.received.clear()

    def next(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def chat_app(endpoint: ChatEndpoint) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> Response:
        body = await request.json()
        endpoint.received.append((dict(request.headers), body))
        reply = endpoint.next()
        await asyncio.sleep(reply.delay)
        if reply.content is not None:
            payload: Any = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"] + "-2026-01-01",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": "stop",
                    }
                ],
            }
        else:
            payload = reply.body
        return Response(
            json.dumps(payload),
            status_code=reply.status,
            headers=reply.headers,
            media_type="application/json",
        )

    return app
