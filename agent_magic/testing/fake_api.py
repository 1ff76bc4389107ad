"""A fake Anthropic Messages API on 127.0.0.1 that replays a script of turns.

It speaks the wire protocol of ``POST /v1/messages`` (JSON, and SSE when ``"stream": true``) so
the real ``anthropic`` SDK can be pointed at it (``base_url=`` or ``ANTHROPIC_BASE_URL``). The
script is the one ``ScriptedModel`` reads (``agent_magic.models.scripted.load_script``). Usage
counts are deterministic estimates (4 characters a token) with prompt caching accounted as the
API documents it (see ``cache_accounting``).

The server is as strict as the API: ``validate.check`` refuses (400/404/413, with the API's error
bodies) any request the API refuses: unknown model, ``max_tokens`` out of range, sampling
parameters or thinking settings the model does not take, roles out of order, a ``tool_use``
without its ``tool_result`` first in the next message, empty or whitespace-only text, more than
4 cache breakpoints, a prompt over the context window, thinking blocks not echoed as sent.

Replies act as the model does: models that think by default (or asked to) open with a signed
``thinking`` block (its text empty at the default ``display`` of the newest models); a reply
longer than ``max_tokens`` is cut and stops with ``max_tokens``; one that would not fit the
context window after the prompt is cut there and stops with ``model_context_window_exceeded``
(as models of 4.5 and later do, rather than refusing prompt + ``max_tokens`` over the window). Script turns may ask for
``"thinking": TEXT``, ``"redacted_thinking": true``, ``"stop": REASON`` (``max_tokens`` cuts
the last block, a tool input mid-JSON; ``refusal``, ``model_context_window_exceeded``,
``pause_turn``), ``"error": "overloaded_error" | "api_error"`` (an ``error`` event after the
first block of the stream) and ``"stall": SECONDS`` (silence after the first block: no bytes, no
pings, the connection held open; it ends early when the server stops); ``"stall_before"``
holds back the response headers the same way.

Every request that passes validation consumes one script turn, faults included: a
``{"fault": "429"}`` turn answers one request with 429, so the SDK's retry gets the next turn.
Faults: ``429`` rate_limit_error, ``529`` overloaded_error, ``500`` api_error, ``504``
timeout_error (each with a small ``retry-after-ms`` header, so retries stay fast), ``402``
billing_error (``x-should-retry: false``), ``drop`` (the connection closes mid-stream, or
before any response for a non-streaming request) and ``bad_json`` (the first tool_use of the
turn, or a default ``view`` call, streams malformed ``input_json_delta``; a non-streaming reply
carries the broken JSON as a string). A request after the last turn gets a 400 that says so.

Run standalone: ``python -m agent_magic.testing.fake_api --script FILE --port N``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_magic.models.scripted import load_script
from agent_magic.testing import wire
from agent_magic.testing.cache_accounting import BadRequest, PromptCache, request_segments
from agent_magic.testing.validate import MAX_REQUEST_BYTES, Rejected, check

if TYPE_CHECKING:
    from typing_extensions import Self

SIGNING_KEY = b"agent_magic fake Messages API: thinking signatures"
FAULT_STATUS = {
    "429": (429, "rate_limit_error", "Rate limit exceeded (fake server)"),
    "529": (529, "overloaded_error", "Overloaded (fake server)"),
    "500": (500, "api_error", "Internal server error (fake server)"),
    "504": (504, "timeout_error", "Request timed out while processing (fake server)"),
}
# Not retryable: the account has no credit left.
BILLING = (402, "billing_error", "Your credit balance is too low to access the API (fake server)")


class FakeAnthropic:
    """A scripted Messages API server in a background thread; use it as a context manager.

    ``api_key``, if given, is the only key accepted; a request with another key gets 401 with
    the offending key echoed in the message (as a careless proxy might), so tests can check that
    clients never repeat it. ``min_cache_tokens`` and ``context_window`` override the model's
    values (None: the model's, from ``models.catalog``); ``clock`` drives the cache's TTL.
    """

    def __init__(
        self,
        script: str | Path | list[dict[str, Any]],
        *,
        port: int = 0,
        retry_after_ms: int = 20,
        min_cache_tokens: int | None = None,
        context_window: int | None = None,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        api_key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.script = load_script(script)
        self.retry_after_ms = retry_after_ms
        self.api_key = api_key
        self.min_cache_tokens = min_cache_tokens
        self.context_window = context_window
        self.max_request_bytes = max_request_bytes
        self.cache = PromptCache(clock=clock)
        self.requests: list[dict[str, Any]] = []
        self.rejected: list[Rejected] = []
        self.usages: list[dict[str, Any]] = []  # the usage of each answered request, in order
        self.turn = 0
        self.lock = threading.Lock()
        # Signatures stay valid across server instances and restarts, as the API's do across
        # requests; tool_use ids are this server's own, as the API's are unique.
        self._secret = SIGNING_KEY
        self.salt = hashlib.sha256(f"{id(self)}:{time.time()}".encode()).hexdigest()[:8]
        self._stopping = threading.Event()  # ends stalls when the server stops
        self._issued: dict[str, list[dict[str, Any]]] = {}  # tool_use id -> content sent with it
        self._paused: list[list[dict[str, Any]]] = []  # the content of replies that paused
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, to give the SDK as ``base_url``."""
        if self._server is None:
            raise RuntimeError("the fake server is not running; use it in a `with` block")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        """Bind and serve in a daemon thread."""
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        # A short poll keeps stop() quick: shutdown() waits for the loop's next poll.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-anthropic",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stall(self, seconds: float) -> None:
        """Wait ``seconds`` mid-stream, or until the server stops."""
        self._stopping.wait(seconds)

    def sign(self, kind: str, content: str, model: str) -> str:
        """An opaque signature binding a thinking block to its content and the model that wrote it."""
        mac = hmac.new(self._secret, f"{kind}\0{model}\0{content}".encode(), "sha256").digest()
        return base64.b64encode(mac).decode()

    def signature_ok(self, block: dict[str, Any], model: str) -> bool:
        """True if a thinking block comes back exactly as this server signed it."""
        if block.get("type") == "thinking":
            return hmac.compare_digest(
                str(block.get("signature", "")),
                self.sign("thinking", str(block.get("thinking", "")), model),
            )
        data = str(block.get("data", ""))
        body, mac = data[:-44], data[-44:]
        return hmac.compare_digest(mac, self.sign("redacted", body, model))

    def validate(self, body: Any, size: int) -> Any:
        """The model's spec if the request is valid; raises ``Rejected`` otherwise."""
        model = str(body.get("model")) if isinstance(body, dict) else ""
        return check(
            body,
            size=size,
            max_bytes=self.max_request_bytes,
            context_window=self.context_window,
            signature_ok=lambda block: self.signature_ok(block, model),
            issued=self._issued.get,
            paused=self.continues_pause,
        )

    def continues_pause(self, blocks: list[dict[str, Any]]) -> bool:
        """True if an assistant message ends with a reply this server sent with ``pause_turn``."""
        with self.lock:
            return any(sent and blocks[-len(sent) :] == sent for sent in self._paused)

    def issue(self, blocks: list[dict[str, Any]], *, paused: bool = False) -> None:
        """Remember what was sent with each tool_use id (to check the echo of its thinking) and
        the content of a paused reply (continuing it is not a prefill)."""
        with self.lock:
            if paused:
                self._paused.append([dict(b) for b in blocks])
            for block in blocks:
                if block["type"] == "tool_use":
                    self._issued[block["id"]] = [dict(b) for b in blocks]

    def next_turn(
        self, body: dict[str, Any], spec: Any = None
    ) -> tuple[int, dict[str, Any] | None, dict[str, Any]]:
        """Consume a turn for a valid request: (index, turn or None if exhausted, cache usage)."""
        segments = request_segments(body)  # raises BadRequest before a turn is consumed
        minimum = self.min_cache_tokens
        if minimum is None:
            minimum = spec.min_cache_tokens if spec is not None else 1024
        with self.lock:
            index = self.turn
            if index >= len(self.script):
                return index, None, {}
            self.turn += 1
            turn = self.script[index]
            if "fault" in turn and turn["fault"] not in ("bad_json", "drop"):
                return index, turn, {}
            usage = self.cache.account(segments, min_tokens=minimum).wire()
            self.usages.append(usage)
        return index, turn, usage


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-anthropic/1"

    @property
    def fake(self) -> FakeAnthropic:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: tests and the benchmark print their own output.
        pass

    def do_GET(self) -> None:
        self._error(
            404, "not_found_error", f"no route {self.path} (fake server serves /v1/messages)"
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        if self.path.split("?")[0] != "/v1/messages":
            return self._error(404, "not_found_error", f"no route {self.path}")
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError as exc:
            return self._error(400, "invalid_request_error", f"body is not JSON: {exc}")
        with self.fake.lock:
            self.fake.requests.append(body)
        key = self.headers.get("x-api-key")
        if key is None and self.headers.get("authorization", "").startswith("Bearer "):
            key = self.headers["authorization"][len("Bearer ") :]
        if self.fake.api_key is not None and key != self.fake.api_key:
            return self._error(401, "authentication_error", f"invalid x-api-key {key!r}")
        try:
            spec = self.fake.validate(body, len(raw))
            index, turn, usage = self.fake.next_turn(body, spec)
        except Rejected as exc:
            self.fake.rejected.append(exc)
            return self._error(exc.status, exc.kind, exc.message)
        except BadRequest as exc:
            self.fake.rejected.append(Rejected(400, "invalid_request_error", str(exc)))
            return self._error(400, "invalid_request_error", str(exc))
        if turn is None:
            return self._error(
                400,
                "invalid_request_error",
                f"fake server: script exhausted: it has {index} turns and request "
                f"#{len(self.fake.requests)} asked for one more",
                retry=False,
            )
        fault = turn.get("fault")
        if fault in FAULT_STATUS:
            return self._error(*FAULT_STATUS[fault], retry=True)
        if fault == "402":
            return self._error(*BILLING, retry=False)
        stream = bool(body.get("stream"))
        if turn.get("stall_before"):
            self.fake.stall(float(turn["stall_before"]))
        if fault == "drop" and not stream:
            return self._drop()
        model = str(body["model"])
        thinking = body.get("thinking") or {}
        think = (
            thinking.get("type") in ("adaptive", "enabled") if thinking else spec.thinks_by_default
        )
        show = thinking.get("display") == "summarized" or (
            not spec.omits_thinking_text and thinking.get("display") != "omitted"
        )
        blocks = wire.reply_blocks(
            turn,
            index,
            think=think,
            show_thinking=show,
            sign=lambda kind, content: self.fake.sign(kind, content, model),
            salt=self.fake.salt,
        )
        stop = turn.get("stop")
        blocks, matched = wire.stop_at_sequence(blocks, body.get("stop_sequences") or [])
        if matched is not None:
            stop = "stop_sequence"
        if stop == "max_tokens" or wire.output_tokens(blocks) > body["max_tokens"]:
            limit = body["max_tokens"] if stop != "max_tokens" else wire.output_tokens(blocks) // 2
            blocks, stop, matched = wire.cut(blocks, limit), "max_tokens", None
        # The current models stop at the window instead of refusing prompt + max_tokens over it.
        room = (self.fake.context_window or spec.context_window) - wire.prompt_tokens(usage)
        if wire.output_tokens(blocks) > room:
            limit = max(1, room)
            while wire.output_tokens(wire.cut(blocks, limit)) > room and limit > 1:
                limit = max(1, limit - 16)  # the cut is by characters, the count an estimate
            blocks, stop, matched = wire.cut(blocks, limit), "model_context_window_exceeded", None
        self.fake.issue(blocks, paused=stop == "pause_turn")
        details = (
            {
                "type": "refusal",
                "category": "cyber",
                "explanation": "The request could enable cyber harm (fake server).",
            }
            if stop == "refusal"
            else None
        )
        message_id = f"msg_fake{index:04d}"
        if not stream:
            if fault == "bad_json":
                for block in blocks:
                    if block["type"] == "tool_use":
                        block["input"] = wire.malformed(json.dumps(block["input"]))
                        break
            message = wire.message_json(
                blocks,
                usage,
                model=model,
                message_id=message_id,
                stop=stop,
                stop_details=details,
                stop_sequence=matched,
            )
            return self._send(200, message)
        events = wire.stream_events(
            blocks,
            usage,
            model=model,
            message_id=message_id,
            bad_json=fault == "bad_json",
            stop=stop,
            stop_details=details,
            error=turn.get("error"),
            stop_sequence=matched,
        )
        if fault == "drop":
            # Enough to have started the reply, then the peer goes away.
            events = [
                *events[:2],
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                ),
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": "Let me "},
                    },
                ),
            ]
        self._stream(events, drop=fault == "drop", stall=float(turn.get("stall", 0)))

    def _headers(self, status: int, content_type: str, extra: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("request-id", self._request_id())
        for name, value in extra.items():
            self.send_header(name, value)

    def _request_id(self) -> str:
        return f"req_fake{len(self.fake.requests):04d}"

    def _send(
        self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self._headers(
            status, "application/json", {**(extra or {}), "content-length": str(len(data))}
        )
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, kind: str, message: str, retry: bool = False) -> None:
        extra = {"x-should-retry": "true" if retry else "false"}
        if retry:
            extra["retry-after-ms"] = str(self.fake.retry_after_ms)
            extra["retry-after"] = str(max(1, -(-self.fake.retry_after_ms // 1000)))
        self._send(status, wire.error_json(kind, message, self._request_id()), extra)

    def _stream(
        self, events: list[tuple[str, dict[str, Any]]], drop: bool, stall: float = 0
    ) -> None:
        self._headers(
            200,
            "text/event-stream; charset=utf-8",
            {"transfer-encoding": "chunked", "cache-control": "no-cache"},
        )
        self.end_headers()
        try:
            for name, data in events:
                chunk = wire.sse(name, data)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                if stall and name == "content_block_stop":
                    self.fake.stall(stall)
                    stall = 0
        except OSError:  # the client went away (e.g. it stopped during a stall)
            self.close_connection = True
            return
        if drop:
            return self._drop()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def main(argv: list[str] | None = None) -> int:
    """Serve a script until interrupted; print the base URL first."""
    parser = argparse.ArgumentParser(
        prog="python -m agent_magic.testing.fake_api",
        description="A fake Anthropic Messages API for offline runs.",
    )
    parser.add_argument("--script", required=True, help="JSON or YAML list of assistant turns")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument(
        "--min-cache-tokens",
        type=int,
        default=None,
        help="shortest prefix that is cached (default: the model's minimum)",
    )
    args = parser.parse_args(argv)
    server = FakeAnthropic(args.script, port=args.port, min_cache_tokens=args.min_cache_tokens)
    with server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
