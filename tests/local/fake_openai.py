"""A tiny OpenAI-protocol HTTP server that plays scripted answers and records requests."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    """One scripted answer: an SSE stream of chunks, a JSON body, or an HTTP error."""

    chunks: list[dict[str, Any]] | None = None
    body: dict[str, Any] | None = None
    status: int = 200
    raw_lines: list[str] | None = None  # verbatim SSE lines (comments, garbage)
    drop: bool = False  # close the connection without answering
    truncate: bool = False  # send half the stream, then close


def text_chunks(*pieces: str, finish: str = "stop") -> list[dict[str, Any]]:
    """Streamed chunks that say ``pieces`` and stop."""
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": p}}]} for p in pieces
    ]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    return chunks


def tool_chunks(
    name: str, argument_pieces: list[str], *, call_id: str = "call_1", index: int = 0
) -> list[dict[str, Any]]:
    """Streamed chunks of one tool call whose arguments arrive in pieces."""
    first = {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    chunks = [{"choices": [{"index": 0, "delta": {"tool_calls": [first]}}]}]
    chunks += [
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": index, "function": {"arguments": piece}}]},
                }
            ]
        }
        for piece in argument_pieces
    ]
    return chunks


@dataclass
class FakeOpenAI:
    """Serves ``/v1/chat/completions`` from ``answers`` in order and ``/v1/models`` from ``models``."""

    answers: list[Answer] = field(default_factory=list)
    models: dict[str, Any] | None = None
    props: dict[str, Any] | None = None  # llama.cpp's /props, served beside /v1
    reject: tuple[str, ...] = ()  # request fields answered with a 400 naming them
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.endswith("/models") and fake.models is not None:
                    self._json(200, fake.models)
                elif self.path == "/props" and fake.props is not None:
                    self._json(200, fake.props)
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                for name in fake.reject:
                    if name in body:
                        self._json(400, {"error": {"message": f"'{name}' is not supported"}})
                        return
                if not fake.answers:
                    self._json(500, {"error": {"message": "no scripted answer left"}})
                    return
                answer = fake.answers.pop(0)
                if answer.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if answer.status >= 400 or answer.body is not None:
                    self._json(answer.status, answer.body or {"error": {"message": "boom"}})
                    return
                lines = answer.raw_lines or []
                lines += [f"data: {json.dumps(c)}" for c in answer.chunks or []]
                payload = "".join(f"{line}\n\n" for line in lines) + "data: [DONE]\n\n"
                data = payload.encode()
                self.send_response(200)
                if answer.truncate:
                    self.close_connection = True
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if answer.truncate else data)

            def _json(self, status: int, value: Any) -> None:
                data = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        """Base URL ending in /v1."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
