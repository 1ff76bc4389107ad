"""The default backend: Claude through the official ``anthropic`` SDK, streamed and prompt-cached.

Streaming reads the raw events of ``client.messages.create(stream=True)`` rather than the
``messages.stream()`` helper: the helper re-parses the tool input JSON on every delta and aborts
the whole stream with ``ValueError`` on malformed JSON (losing the text and usage), and it
silently accepts truncated JSON as a partial input. Folding the raw events ourselves keeps the
text, parses each tool input once, strictly, and turns bad JSON into
``{"__invalid_json__": raw}`` for the loop to answer with a tool error. Content blocks are kept
raw and in stream order, so thinking blocks go back to the API exactly as received.

Retries are done here, not by the SDK (its client runs with ``max_retries=0``): a rate limit,
an overloaded or failing API, a dropped connection, a stream cut short and an ``error`` event
inside a stream (which the SDK raises with status 200) are all retried up to ``max_retries``
times with the API's ``retry-after`` or an exponential backoff, and every wait (and the stream
itself) ends early when the request's ``cancel`` event is set, so Stop is never stuck behind a
retry sleep, nor behind a stream gone silent (``StopWatch`` cuts its connection).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import typing
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from agent_magic.errors import ModelError, UserError
from agent_magic.models.base import INVALID_JSON_KEY, Reply, Request, TextSink, ToolCall, Usage
from agent_magic.models.catalog import EFFORTS, spec_for
from agent_magic.models.catalog import default_max_tokens as _default_max_tokens
from agent_magic.models.pricing import parse_model_name, price_for
from agent_magic.secrets import Redactor, secret_env_values

if TYPE_CHECKING:
    import anthropic

EPHEMERAL = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4
FALLBACK_MODEL = "claude-sonnet-5-5"
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}
STREAM_RETRY_ERRORS = {"overloaded_error", "api_error"}
MAX_RETRY_WAIT = 60.0

MISSING_KEY = (
    "ANTHROPIC_API_KEY is not set. Set it in the notebook with `%env ANTHROPIC_API_KEY=...` "
    "(or in the environment before starting Jupyter/IPython); a bearer token in "
    "ANTHROPIC_AUTH_TOKEN works too. "
    "To run offline without a key, use a scripted model: `--model scripted:PATH` "
    "(model='scripted:PATH' from Python)."
)


def sdk_model_names() -> list[str]:
    """The model names the installed SDK lists in its ``ModelParam`` type."""
    from anthropic.types.model_param import ModelParam

    names: list[str] = []

    def walk(tp: Any) -> None:
        for arg in typing.get_args(tp):
            if isinstance(arg, str):
                names.append(arg)
            else:
                walk(arg)

    walk(ModelParam)
    return names


def default_model_name(names: Iterable[str] | None = None) -> str:
    """The newest Sonnet among ``names`` (default: the SDK's list), preferring the undated alias."""
    best: tuple[tuple[int, int], bool, str] | None = None
    best_name = ""
    for name in sdk_model_names() if names is None else names:
        parsed = parse_model_name(name)
        if parsed is None or parsed.family != "sonnet":
            continue
        rank = (parsed.version, not parsed.date, parsed.date)
        if best is None or rank > best:
            best, best_name = rank, name
    return best_name or FALLBACK_MODEL


def thinking_params(model: str, effort: str | None) -> dict[str, Any]:
    """The ``thinking`` / ``output_config`` parameters for a model and an effort choice.

    Models that think adaptively get ``display: "summarized"``, so the text between tool calls
    streams to the user (the newest models send it empty by default). ``effort="off"`` turns
    thinking off where the model allows it; ``None`` keeps the model's default effort.
    """
    spec = spec_for(model)
    if spec is None:
        return {}
    if effort == "off":
        kind = spec.off_type()
        if kind is None:
            raise UserError(
                f"{model} cannot turn thinking off; choose a lower effort "
                f"({', '.join(EFFORTS)}) instead"
            )
        return {} if spec.thinking in ("off", "extended") else {"thinking": {"type": kind}}
    params: dict[str, Any] = {}
    if effort is not None:
        if spec.default_effort is None:
            raise UserError(f"{model} takes no effort setting; leave --effort out")
        if effort not in EFFORTS:
            raise UserError(f"unknown effort {effort!r}; use one of off, {', '.join(EFFORTS)}")
        params["output_config"] = {"effort": effort}
    adaptive = "adaptive" not in spec.rejects
    if adaptive and (spec.thinks_by_default or effort is not None):
        params["thinking"] = {"type": "adaptive", "display": "summarized"}
    return params


def build_params(
    model: str, request: Request, *, cache: bool = True, effort: str | None = None
) -> dict[str, Any]:
    """Messages API parameters for a request, with cache breakpoints; the request is not mutated.

    Breakpoints go on the last tool, the system block and the last block of the last message,
    so the whole prefix of each turn is read from cache on the next one.
    """
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        **thinking_params(model, effort),
    }
    marker = {"cache_control": EPHEMERAL} if cache else {}
    used = 0
    if request.tools:
        tools = list(request.tools)
        tools[-1] = {**tools[-1], **marker}
        params["tools"] = tools
        used += 1
    if request.system:
        params["system"] = [{"type": "text", "text": request.system, **marker}]
        used += 1
    messages = list(request.messages)
    used += sum(_marked(m) for m in messages)
    if cache and messages and used < MAX_BREAKPOINTS:
        messages[-1] = _mark_last_block(messages[-1])
    params["messages"] = messages
    return params


def _marked(message: dict[str, Any]) -> int:
    content = message.get("content")
    if not isinstance(content, list):
        return 0
    return sum(1 for b in content if isinstance(b, dict) and b.get("cache_control"))


def _mark_last_block(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str):
        if not content:
            return message
        return {
            **message,
            "content": [{"type": "text", "text": content, "cache_control": EPHEMERAL}],
        }
    if not content or not isinstance(content[-1], dict):
        return message
    last = content[-1]
    # The API refuses cache_control on empty text and on thinking blocks.
    if (last.get("type") == "text" and not str(last.get("text", "")).strip()) or "thinking" in str(
        last.get("type")
    ):
        return message
    return {**message, "content": [*content[:-1], {**last, "cache_control": EPHEMERAL}]}


class StreamFold:
    """Folds raw Messages stream events (as dicts) into a Reply; ``feed`` returns text deltas.

    Thinking deltas go to ``on_thinking``. Blocks are kept whole and in stream order (thinking
    with its signature, redacted thinking as sent) for the reply to echo unchanged.
    """

    def __init__(self, on_thinking: TextSink | None = None) -> None:
        self.blocks: dict[int, dict[str, Any]] = {}
        self.usage = Usage()
        self.stop_reason = ""
        self.stop_details: dict[str, Any] | None = None
        self.finished = False
        self.on_thinking = on_thinking

    def feed(self, event: dict[str, Any]) -> str:
        """Take one event; return the text it adds (``""`` if none)."""
        kind = event.get("type")
        if kind == "message_start":
            self._take_usage(event.get("message", {}).get("usage") or {})
        elif kind == "content_block_start":
            block = dict(event.get("content_block") or {})
            block["_json"] = []
            self.blocks[event["index"]] = block
        elif kind == "content_block_delta":
            return self._delta(event)
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            self.stop_reason = delta.get("stop_reason") or self.stop_reason
            self.stop_details = delta.get("stop_details") or self.stop_details
            self._take_usage(event.get("usage") or {})
        elif kind == "message_stop":
            self.finished = True
        return ""

    def _delta(self, event: dict[str, Any]) -> str:
        block = self.blocks.setdefault(event["index"], {"type": "text", "text": "", "_json": []})
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = block.get("text", "") + delta.get("text", "")
            return delta.get("text", "")
        if kind == "input_json_delta":
            block["_json"].append(delta.get("partial_json", ""))
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
            if self.on_thinking is not None and delta.get("thinking"):
                self.on_thinking(delta["thinking"])
        elif kind == "signature_delta":
            block["signature"] = block.get("signature", "") + delta.get("signature", "")
        return ""

    def _take_usage(self, usage: dict[str, Any]) -> None:
        # Counts on message_delta are cumulative: they replace, and absent ones keep their value.
        fields = {
            "input_tokens": "input_tokens",
            "output_tokens": "output_tokens",
            "cache_creation_input_tokens": "cache_write_tokens",
            "cache_read_input_tokens": "cache_read_tokens",
        }
        for wire_name, ours in fields.items():
            if usage.get(wire_name) is not None:
                setattr(self.usage, ours, int(usage[wire_name]))

    def reply(self) -> Reply:
        """The reply so far: raw blocks, text, tool calls (bad JSON kept raw), stop reason, usage."""
        blocks: list[dict[str, Any]] = []
        calls: list[ToolCall] = []
        for _, block in sorted(self.blocks.items()):
            clean = {k: v for k, v in block.items() if k != "_json"}
            if block["type"] == "tool_use":
                clean["input"] = parse_tool_input(block)
                calls.append(
                    ToolCall(
                        id=clean.get("id", ""), name=clean.get("name", ""), input=clean["input"]
                    )
                )
            blocks.append(clean)
        text = "".join(b.get("text", "") for b in blocks if b["type"] == "text")
        stop = self.stop_reason or ("tool_use" if calls else "end_turn")
        return Reply(
            text=text,
            tool_calls=calls,
            stop_reason=stop,
            usage=self.usage,
            blocks=blocks,
            stop_details=self.stop_details,
        )


def parse_tool_input(block: dict[str, Any]) -> dict[str, Any]:
    """The tool input of a streamed tool_use block; ``{"__invalid_json__": raw}`` if it is not an object."""
    raw = "".join(block.get("_json", []))
    if not raw.strip():
        start = block.get("input")
        return dict(start) if isinstance(start, dict) else {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {INVALID_JSON_KEY: raw}
    return value if isinstance(value, dict) else {INVALID_JSON_KEY: raw}


STOP_POLL_S = 0.1


class StopWatch:
    """Cuts a streaming response's connection when ``cancel`` is set, until ``finish`` is called.

    A stream that goes silent (no events, no pings) blocks the reading thread in a socket read
    until the client's timeout, so checking ``cancel`` between events is not enough. Closing the
    response from another thread does not wake that read; shutting the socket down does, and the
    read then fails at once. The socket comes from the ``network_stream`` response extension of
    httpx/httpcore; without one (another transport) Stop acts at the next event, as before.
    """

    def __init__(self, cancel: threading.Event, response: Any) -> None:
        self._cancel = cancel
        self._response = response
        self._lock = threading.Lock()
        self._finished = False
        threading.Thread(target=self._watch, name="anthropic-stop-watch", daemon=True).start()

    def finish(self) -> None:
        """The stream is over: never cut the connection from now on (it may go back to the pool)."""
        with self._lock:
            self._finished = True

    def _watch(self) -> None:
        while not self._cancel.wait(STOP_POLL_S):
            if self._finished:
                return
        with self._lock:
            if not self._finished:
                _shut(self._response)


def _shut(response: Any) -> None:
    extensions = getattr(response, "extensions", None) or {}
    stream = extensions.get("network_stream")
    info = getattr(stream, "get_extra_info", None)
    sock = info("socket") if info is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _StreamBroken(Exception):
    """The response began but did not finish (connection lost, stream cut short)."""


class Cancelled(ModelError):
    """The request's ``cancel`` event was set: the call gave up (mid-stream or between retries)."""


def _is_transport_error(exc: BaseException) -> bool:
    import anthropic

    return isinstance(exc, (anthropic.APIConnectionError, OSError)) or type(exc).__module__.split(
        "."
    )[0] in ("httpx", "httpx2", "httpcore", "httpcore2")


def redact(text: str, secret: str | None) -> str:
    """Remove the API key (and every other secret the policy knows) from a message."""
    return Redactor([*secret_env_values(), secret or ""])(text)


def error_type(exc: BaseException) -> str:
    """The API's error type of an SDK error (``overloaded_error``, ...), or ``""``."""
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("type") or "") if isinstance(error, dict) else ""


def is_stream_error(exc: BaseException) -> bool:
    """An ``error`` event inside a stream: the SDK raises it with the stream's status, 200."""
    import anthropic

    return isinstance(exc, anthropic.APIStatusError) and exc.status_code < 400


def retryable(exc: BaseException) -> bool:
    """Worth another try: rate limits, overload, server faults, timeouts, lost connections."""
    import anthropic

    if isinstance(exc, anthropic.APIConnectionError):
        return True
    if isinstance(exc, anthropic.APIStatusError):
        if is_stream_error(exc):
            return error_type(exc) in STREAM_RETRY_ERRORS
        header = exc.response.headers.get("x-should-retry") if exc.response is not None else None
        if header in ("true", "false"):
            return header == "true"
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    return False


def retry_delay(exc: BaseException | None, attempt: int, base: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): the API's hint, else exponential."""
    response = getattr(exc, "response", None)
    headers = response.headers if response is not None else {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            value = float(headers.get(name, "")) * scale
        except ValueError:
            continue
        if 0 <= value <= MAX_RETRY_WAIT:
            return value
    return min(base * 2**attempt, 8.0)


_ADVICE: list[tuple[str, str]] = [
    (
        "AuthenticationError",
        "The API key was rejected: check ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN).",
    ),
    ("PermissionDeniedError", "This key may not use this model or feature."),
    (
        "NotFoundError",
        (
            f"Check the model name (e.g. --model {FALLBACK_MODEL}; the installed SDK "
            "lists the current ones) and the base URL."
        ),
    ),
    ("RateLimitError", "Rate limited even after retrying; wait a minute, or lower usage."),
    ("OverloadedError", "The API is overloaded; try again in a few minutes."),
    ("InternalServerError", "The API failed even after retrying; try again later."),
]


def _bad_request_advice(message: str) -> str:
    lowered = message.lower()
    if "prompt is too long" in lowered or "context" in lowered:
        return (
            "The conversation no longer fits the model's context window; start a new task "
            "(or resume with a narrower instruction)."
        )
    if "thinking" in lowered or "effort" in lowered:
        return "The model refused this thinking/effort setting; try another --effort."
    if "max_tokens" in lowered:
        return "Lower --max-tokens to the model's output limit."
    return (
        "The API refused the request as malformed; this is a bug in agent_magic: please "
        "report it with the session's transcript."
    )


def describe_error(exc: Exception, *, model: str, base_url: str, retries: int) -> str:
    """A one-paragraph message for an SDK error: what failed, the status, what to do."""
    import anthropic

    if isinstance(exc, anthropic.APITimeoutError):
        return (
            f"the Anthropic API did not answer in time (model {model}, after {retries} "
            "retries); try again, or raise the timeout."
        )
    if isinstance(exc, anthropic.APIConnectionError):
        return (
            f"cannot reach the Anthropic API at {base_url} (after {retries} retries): "
            f"{exc.__cause__ or exc}. Check the network, a proxy, or ANTHROPIC_BASE_URL."
        )
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        raw = body.get("error")
        error = raw if isinstance(raw, dict) else {}
        kind = error.get("type") or type(exc).__name__
        message = error.get("message") or exc.message
        request_id = f", request {exc.request_id}" if getattr(exc, "request_id", None) else ""
        if is_stream_error(exc):
            advice = (
                "The API failed mid-reply even after retrying; try again in a few minutes."
                if kind in STREAM_RETRY_ERRORS
                else "Try again later."
            )
            return (
                f"Anthropic API error {kind} inside the reply stream (model {model}{request_id}, "
                f"after {retries} retries): {message}. {advice}"
            )
        advice = next(
            (text for name, text in _ADVICE if isinstance(exc, getattr(anthropic, name, ()))), ""
        )
        if kind == "billing_error":
            advice = (
                "The account cannot pay for this request: check its credit balance and "
                "billing in the Claude Console, then try again."
            )
        elif exc.status_code == 413:
            advice = (
                "The request is larger than the API accepts (32 MB); the conversation holds "
                "too much file content: start a new task or resume with a narrower one."
            )
        elif exc.status_code == 400:
            advice = _bad_request_advice(str(message))
        if not advice:
            advice = "Try again later." if exc.status_code >= 500 else ""
        return (
            f"Anthropic API error {exc.status_code} {kind} (model {model}{request_id}): "
            f"{message}. {advice}"
        ).strip()
    return f"Anthropic API call failed: {type(exc).__name__}: {exc}"


class AnthropicModel:
    """Claude via the ``anthropic`` SDK: streaming, thinking, tool use, prompt caching, typed errors.

    ``effort`` is one of ``off, low, medium, high, xhigh, max`` or None (the model's default);
    ``context_window`` overrides the model's (for tests against a small fake window).
    """

    streams_thinking = True
    takes_images = True  # image content blocks in user messages

    def __init__(
        self,
        name: str | None = None,
        *,
        client: anthropic.Anthropic | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int | None = None,
        timeout: float = 120.0,
        prompt_cache: bool = True,
        effort: str | None = None,
        context_window: int | None = None,
        retry_base_s: float = 0.5,
    ) -> None:
        self.name = name or default_model_name()
        self.prompt_cache = prompt_cache
        self.price = price_for(self.name)
        self.effort = effort
        thinking_params(self.name, effort)  # a bad choice is a UserError now, not a 400 later
        spec = spec_for(self.name)
        self.max_output = spec.max_output if spec else None
        self.context_window = context_window or (spec.context_window if spec else None)
        self.default_max_tokens = _default_max_tokens(self.name)
        self.retry_base_s = retry_base_s
        self._lock = threading.Lock()
        self._sdk_client: anthropic.Anthropic | None = None
        self._key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        self._token = None if self._key else os.environ.get("ANTHROPIC_AUTH_TOKEN")
        self._base_url = base_url
        self._timeout = timeout
        if client is None:
            if not self._key and not self._token:
                raise UserError(MISSING_KEY)
            # The SDK (thousands of modules, seconds to import) is imported by the first
            # request, in the agent's thread: the cell that made the model returns at once.
            self.max_retries = 3 if max_retries is None else max_retries
        else:
            self.max_retries = client.max_retries if max_retries is None else max_retries
            self._sdk_client = client.with_options(max_retries=0)

    @property
    def _client(self) -> anthropic.Anthropic:
        with self._lock:
            if self._sdk_client is None:
                import anthropic

                self._sdk_client = anthropic.Anthropic(
                    api_key=self._key,
                    auth_token=self._token,
                    base_url=self._base_url,
                    timeout=self._timeout,
                    max_retries=0,
                )
            return self._sdk_client

    def __repr__(self) -> str:
        return f"AnthropicModel({self.name!r})"

    def check_settings(self, *, effort: str | None = None, max_tokens: int | None = None) -> None:
        """Raise ``UserError`` for an effort or output limit this model does not take."""
        thinking_params(self.name, effort)
        if max_tokens is not None and self.max_output is not None and max_tokens > self.max_output:
            raise UserError(
                f"--max-tokens {max_tokens} is above {self.name}'s output limit of "
                f"{self.max_output} tokens"
            )

    def complete(
        self, request: Request, on_text: TextSink | None = None, on_thinking: TextSink | None = None
    ) -> Reply:
        """Stream one reply; text and thinking deltas go to ``on_text`` / ``on_thinking``."""
        import anthropic

        params = build_params(
            self.name, request, cache=self.prompt_cache, effort=request.effort or self.effort
        )
        cancel = request.cancel or threading.Event()
        for attempt in range(self.max_retries + 1):
            fold = StreamFold(on_thinking)
            last = attempt == self.max_retries
            try:
                return self._stream(params, fold, on_text, cancel)
            except _StreamBroken as exc:
                if last:
                    raise self._error(
                        f"the connection to the Anthropic API dropped mid-reply "
                        f"{attempt + 1} times ({exc}); check the network and try again."
                    ) from None
                failure: BaseException | None = None
                note = "connection lost mid-reply"
            except anthropic.APIError as exc:
                if last or not retryable(exc):
                    raise self._error(
                        describe_error(
                            exc,
                            model=self.name,
                            base_url=str(self._client.base_url),
                            retries=attempt,
                        )
                    ) from None
                failure, note = exc, error_type(exc) or type(exc).__name__
            delay = retry_delay(failure, attempt, self.retry_base_s)
            if on_text is not None:  # the user sees why nothing happens for a while
                on_text(f"\n[{note}; retrying in {delay:.1f} s]\n")
            if cancel.wait(delay):
                raise Cancelled("stopped while waiting to retry the Anthropic API")
        raise AssertionError("unreachable")  # pragma: no cover

    def _stream(
        self,
        params: dict[str, Any],
        fold: StreamFold,
        on_text: TextSink | None,
        cancel: threading.Event,
    ) -> Reply:
        import anthropic

        if cancel.is_set():
            raise Cancelled("stopped before the request was sent")
        stream = self._open(params, cancel)
        watch = StopWatch(cancel, stream.response)
        try:
            with stream:
                try:
                    for event in stream:
                        if cancel.is_set():
                            raise Cancelled("stopped while the reply was streaming")
                        text = fold.feed(event.to_dict())
                        if text and on_text is not None:
                            on_text(text)
                finally:
                    watch.finish()  # before the response is closed and its connection reused
        except (anthropic.APIStatusError, Cancelled):
            raise
        except Exception as exc:
            if cancel.is_set():  # the watch cut the connection of a silent stream
                raise Cancelled("stopped while the reply was streaming") from None
            if _is_transport_error(exc):
                raise _StreamBroken(f"{type(exc).__name__}: {exc}") from None
            raise
        if not fold.finished:
            raise _StreamBroken("the stream ended before message_stop")
        return fold.reply()

    def _open(self, params: dict[str, Any], cancel: threading.Event) -> Any:
        """Send the request and return the stream once its headers arrive, or raise ``Cancelled``.

        The request waits in a helper thread, so Stop is not stuck until the headers come (a
        slow proxy, a queue); a request given up on is closed by that thread when it answers.
        """
        result: dict[str, Any] = {}
        arrived = threading.Event()
        lock = threading.Lock()

        def send() -> None:
            try:
                result["stream"] = self._client.messages.create(**params, stream=True)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                result["error"] = exc
            with lock:
                arrived.set()
                abandoned = result.get("abandoned", False)
            if abandoned and "stream" in result:
                result["stream"].close()

        threading.Thread(target=send, name="anthropic-request", daemon=True).start()
        try:
            while not arrived.wait(STOP_POLL_S):
                if cancel.is_set():
                    raise Cancelled("stopped while waiting for the reply to start")
        except BaseException:  # Stop, or Ctrl-C in this thread: the response is not wanted
            with lock:
                result["abandoned"] = True
                late = arrived.is_set() and "stream" in result
            if late:
                result["stream"].close()
            raise
        if "error" in result:
            raise result["error"]
        return result["stream"]

    def _error(self, message: str) -> ModelError:
        return ModelError(redact(message, getattr(self._client, "api_key", None)))
