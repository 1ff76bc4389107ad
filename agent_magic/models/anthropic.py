"""The default backend: Claude through the official ``anthropic`` SDK, streamed and prompt-cached.

Streaming reads the raw events of ``client.messages.create(stream=True)`` rather than the
``messages.stream()`` helper: the helper re-parses the tool input JSON on every delta and aborts
the whole stream with ``ValueError`` on malformed JSON (losing the text and usage), and it
silently accepts truncated JSON as a partial input. Folding the raw events ourselves keeps the
text, parses each tool input once, strictly, and turns bad JSON into
``{"__invalid_json__": raw}`` for the loop to answer with a tool error. Requests, retries and
timeouts are the SDK's; a connection lost mid-stream (which the SDK cannot retry, the response
having begun) is retried here up to ``max_retries`` times.
"""

from __future__ import annotations

import json
import os
import typing
from collections.abc import Iterable
from typing import Any

import anthropic

from agent_magic.errors import ModelError, UserError
from agent_magic.models.base import Reply, Request, TextSink, ToolCall, Usage
from agent_magic.models.pricing import parse_model_name, price_for
from agent_magic.secrets import Redactor, secret_env_values

EPHEMERAL = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4
FALLBACK_MODEL = "claude-sonnet-4-5"
INVALID_JSON_KEY = "__invalid_json__"

MISSING_KEY = (
    "ANTHROPIC_API_KEY is not set. Set it in the notebook with `%env ANTHROPIC_API_KEY=...` "
    "(or in the environment before starting Jupyter/IPython), or pass api_key=. "
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


def build_params(model: str, request: Request, *, cache: bool = True) -> dict[str, Any]:
    """Messages API parameters for a request, with cache breakpoints; the request is not mutated.

    Breakpoints go on the last tool, the system block and the last block of the last message,
    so the whole prefix of each turn is read from cache on the next one.
    """
    params: dict[str, Any] = {"model": model, "max_tokens": request.max_tokens}
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
        return {**message, "content": [{"type": "text", "text": content, "cache_control": EPHEMERAL}]}
    if not content or not isinstance(content[-1], dict):
        return message
    last = content[-1]
    # The API refuses cache_control on empty text and on thinking blocks.
    if (last.get("type") == "text" and not last.get("text")) or "thinking" in str(last.get("type")):
        return message
    return {**message, "content": [*content[:-1], {**last, "cache_control": EPHEMERAL}]}


class StreamFold:
    """Folds raw Messages stream events (as dicts) into a Reply; ``feed`` returns text deltas."""

    def __init__(self) -> None:
        self.blocks: dict[int, dict[str, Any]] = {}
        self.usage = Usage()
        self.stop_reason = ""
        self.finished = False

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
            block = self.blocks.setdefault(event["index"], {"type": "text", "text": "", "_json": []})
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + delta.get("text", "")
                return delta.get("text", "")
            if delta.get("type") == "input_json_delta":
                block["_json"].append(delta.get("partial_json", ""))
        elif kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            self._take_usage(event.get("usage") or {})
        elif kind == "message_stop":
            self.finished = True
        return ""

    def _take_usage(self, usage: dict[str, Any]) -> None:
        # Counts on message_delta are cumulative: they replace, and absent ones keep their value.
        fields = {"input_tokens": "input_tokens", "output_tokens": "output_tokens",
                  "cache_creation_input_tokens": "cache_write_tokens",
                  "cache_read_input_tokens": "cache_read_tokens"}
        for wire_name, ours in fields.items():
            if usage.get(wire_name) is not None:
                setattr(self.usage, ours, int(usage[wire_name]))

    def reply(self) -> Reply:
        """The reply so far: text, tool calls (bad JSON kept raw), stop reason, usage."""
        text = "".join(b.get("text", "") for _, b in sorted(self.blocks.items()) if b["type"] == "text")
        calls = [
            ToolCall(id=b.get("id", ""), name=b.get("name", ""), input=parse_tool_input(b))
            for _, b in sorted(self.blocks.items())
            if b["type"] == "tool_use"
        ]
        stop = self.stop_reason or ("tool_use" if calls else "end_turn")
        return Reply(text=text, tool_calls=calls, stop_reason=stop, usage=self.usage)


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


class _StreamBroken(Exception):
    """The response began but did not finish (connection lost, stream cut short)."""


def _is_transport_error(exc: BaseException) -> bool:
    return isinstance(exc, (anthropic.APIConnectionError, OSError)) or type(
        exc
    ).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2")


def redact(text: str, secret: str | None) -> str:
    """Remove the API key (and every other secret the policy knows) from a message."""
    return Redactor([*secret_env_values(), secret or ""])(text)


_ADVICE: list[tuple[str, str]] = [
    ("AuthenticationError", "The API key was rejected: check ANTHROPIC_API_KEY."),
    ("PermissionDeniedError", "This key may not use this model or feature."),
    ("NotFoundError", "Check the model name (e.g. --model claude-sonnet-4-5) and the base URL."),
    ("RateLimitError", "Rate limited even after retrying; wait a minute, or lower usage."),
    ("OverloadedError", "The API is overloaded; try again in a few minutes."),
    ("BadRequestError", "The request was rejected; the conversation may be too long."),
    ("InternalServerError", "The API failed even after retrying; try again later."),
]


def describe_error(exc: Exception, *, model: str, base_url: str, retries: int) -> str:
    """A one-paragraph message for an SDK error: what failed, the status, what to do."""
    if isinstance(exc, anthropic.APITimeoutError):
        return (f"the Anthropic API did not answer in time (model {model}, after {retries} "
                "retries); try again, or raise the timeout.")
    if isinstance(exc, anthropic.APIConnectionError):
        return (f"cannot reach the Anthropic API at {base_url} (after {retries} retries): "
                f"{exc.__cause__ or exc}. Check the network, a proxy, or ANTHROPIC_BASE_URL.")
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        kind = error.get("type") or type(exc).__name__
        message = error.get("message") or exc.message
        advice = next((text for name, text in _ADVICE
                       if isinstance(exc, getattr(anthropic, name, ()))), "")
        if not advice:
            advice = "Try again later." if exc.status_code >= 500 else ""
        request_id = f", request {exc.request_id}" if getattr(exc, "request_id", None) else ""
        return (f"Anthropic API error {exc.status_code} {kind} (model {model}{request_id}): "
                f"{message}. {advice}").strip()
    return f"Anthropic API call failed: {type(exc).__name__}: {exc}"


class AnthropicModel:
    """Claude via the ``anthropic`` SDK: streaming, tool use, prompt caching, typed errors."""

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
    ) -> None:
        self.name = name or default_model_name()
        self.prompt_cache = prompt_cache
        self.price = price_for(self.name)
        if client is None:
            key = api_key or os.environ.get("ANTHROPIC_API_KEY")
            if not key:
                raise UserError(MISSING_KEY)
            client = anthropic.Anthropic(api_key=key, base_url=base_url, timeout=timeout,
                                         max_retries=3 if max_retries is None else max_retries)
        self._client = client
        self.max_retries = client.max_retries if max_retries is None else max_retries

    def __repr__(self) -> str:
        return f"AnthropicModel({self.name!r})"

    def complete(self, request: Request, on_text: TextSink | None = None) -> Reply:
        """Stream one reply; text deltas go to ``on_text`` as they arrive."""
        params = build_params(self.name, request, cache=self.prompt_cache)
        for attempt in range(self.max_retries + 1):
            fold = StreamFold()
            try:
                return self._stream(params, fold, on_text)
            except _StreamBroken as exc:
                if attempt == self.max_retries:
                    raise self._error(
                        f"the connection to the Anthropic API dropped mid-reply "
                        f"{attempt + 1} times ({exc}); check the network and try again."
                    ) from None
                if on_text is not None and fold.reply().text:
                    on_text("\n[connection lost mid-reply; retrying]\n")
            except anthropic.APIError as exc:
                raise self._error(describe_error(
                    exc, model=self.name, base_url=str(self._client.base_url),
                    retries=self.max_retries)) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _stream(self, params: dict[str, Any], fold: StreamFold, on_text: TextSink | None) -> Reply:
        stream = self._client.messages.create(**params, stream=True)
        try:
            with stream:
                for event in stream:
                    text = fold.feed(event.to_dict())
                    if text and on_text is not None:
                        on_text(text)
        except anthropic.APIStatusError:
            raise
        except Exception as exc:
            if _is_transport_error(exc):
                raise _StreamBroken(f"{type(exc).__name__}: {exc}") from None
            raise
        if not fold.finished:
            raise _StreamBroken("the stream ended before message_stop")
        return fold.reply()

    def _error(self, message: str) -> ModelError:
        return ModelError(redact(message, getattr(self._client, "api_key", None)))
