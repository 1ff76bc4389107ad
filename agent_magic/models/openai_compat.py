"""A backend for OpenAI-compatible chat-completions servers (llama.cpp, Ollama, vLLM, LM Studio).

Speaks plain HTTP with ``httpx`` and translates the Anthropic-format messages of ``Request`` to
OpenAI chat messages and back. The translation and the stream assembly are pure functions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from agent_magic.errors import ModelError
from agent_magic.models.base import FREE, Price, Reply, Request, TextSink, ToolCall, Usage
from agent_magic.secrets import redact
from agent_magic.tokens import estimate_tokens

INVALID_JSON_KEY = "__invalid_json__"
DEFAULT_CONTEXT_WINDOW = 8192
RETRY_STATUS = (408, 429, 500, 502, 503, 504)
# Optional request fields some servers reject with a 400; dropped one by one on such an answer.
OPTIONAL_FIELDS = ("tool_choice", "stream_options")
# Keys under which servers report the context window in /v1/models entries.
CONTEXT_KEYS = (
    "n_ctx",
    "context_length",
    "context_window",
    "max_model_len",
    "n_ctx_train",
    "max_context_length",
)

FINISH_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


# ---------------------------------------------------------------- translation (pure)


def to_openai_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anthropic tool dicts as OpenAI ``function`` tools."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool.get("description", ""),
                "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
            },
        }
        for tool in tools
    ]


def block_text(content: Any) -> str:
    """The text of a string or a list of content blocks (non-text blocks become placeholders)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(block.get("text", ""))
        else:
            parts.append(f"[{block.get('type', 'block')} omitted]")
    return "\n".join(p for p in parts if p)


def to_openai_messages(system: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anthropic-format conversation as OpenAI chat messages (tool results become ``tool`` ones)."""
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        role, content = message["role"], message["content"]
        if isinstance(content, str):
            out.append({"role": role, "content": content})
            continue
        if role == "assistant":
            out.append(_assistant_message(content))
            continue
        texts = []
        for block in content:
            if block.get("type") == "tool_result":
                # tool messages must follow the assistant's tool_calls directly, so they go first
                text = block_text(block.get("content"))
                if block.get("is_error"):
                    text = f"ERROR: {text}"
                out.append({"role": "tool", "tool_call_id": block["tool_use_id"], "content": text})
            else:
                texts.append(block)
        text = block_text(texts)
        if text:
            out.append({"role": "user", "content": text})
    return out


def _assistant_message(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    text = block_text([b for b in blocks if b.get("type") == "text"])
    calls = [
        {
            "id": b["id"],
            "type": "function",
            "function": {"name": b["name"], "arguments": json.dumps(b.get("input", {}))},
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    message: dict[str, Any] = {"role": "assistant"}
    if text or not calls:
        message["content"] = text  # optional with tool_calls; some servers refuse a null
    if calls:
        message["tool_calls"] = calls
    return message


def parse_arguments(raw: str | dict[str, Any] | None) -> dict[str, Any]:
    """Tool-call arguments as a dict; malformed ones as ``{"__invalid_json__": raw}``."""
    if isinstance(raw, dict):
        return raw
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {INVALID_JSON_KEY: raw}
    return value if isinstance(value, dict) else {INVALID_JSON_KEY: raw}


def iter_sse(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent-events stream, up to ``data: [DONE]``."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # comments (": ping"), event names, blank separators
        data = line[5:].strip()
        if data == "[DONE]":
            return
        if not data:
            continue
        try:
            yield json.loads(data)
        except json.JSONDecodeError:
            raise ModelError(f"the server sent a malformed stream event: {data[:200]!r}") from None


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class ChunkAssembler:
    """Accumulates chat-completion chunks (or one whole response) into a ``Reply``."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    calls: dict[int, _PartialCall] = field(default_factory=dict)

    def add(self, chunk: dict[str, Any]) -> str:
        """Take one streamed chunk; return its text delta (maybe empty)."""
        if chunk.get("error"):
            raise ModelError(f"the server reported an error mid-stream: {_error_text(chunk)}")
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        delta_text = ""
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or choice.get("message") or {}
            piece = delta.get("content") or ""
            delta_text += piece
            for i, call in enumerate(delta.get("tool_calls") or []):
                partial = self.calls.setdefault(call.get("index", i), _PartialCall())
                partial.id = partial.id or call.get("id") or ""
                function = call.get("function") or {}
                partial.name += function.get("name") or ""
                arguments = function.get("arguments")
                if isinstance(arguments, dict):  # some servers send an object, not a string
                    arguments = json.dumps(arguments)
                partial.arguments += arguments or ""
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        self.text += delta_text
        return delta_text

    def reply(self, request: Request) -> Reply:
        """The assembled reply; tokens estimated when the server sent no usage."""
        calls = [
            ToolCall(id=p.id or f"call_{i}", name=p.name, input=parse_arguments(p.arguments))
            for i, p in sorted(self.calls.items())
        ]
        stop = FINISH_REASONS.get(self.finish_reason or "stop", "end_turn")
        if calls and stop == "end_turn":
            stop = "tool_use"  # some servers say "stop" even when they called tools
        usage = self.usage or {}
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        return Reply(
            text=self.text,
            tool_calls=calls,
            stop_reason=stop,
            usage=Usage(
                input_tokens=prompt
                if prompt is not None
                else estimate_tokens([request.system, request.tools, request.messages]),
                output_tokens=completion
                if completion is not None
                else estimate_tokens([self.text] + [[c.name, c.input] for c in calls]),
            ),
        )


def context_window_from_models(payload: Any, model: str) -> int | None:
    """The context window a ``/v1/models`` answer reports for ``model`` (or its only entry)."""
    entries = payload.get("data") if isinstance(payload, dict) else payload
    if not isinstance(entries, list):
        return None
    match = [e for e in entries if isinstance(e, dict) and e.get("id") == model]
    if not match and len(entries) == 1 and isinstance(entries[0], dict):
        match = entries
    for entry in match:
        for where in (entry, entry.get("meta") or {}, entry.get("metadata") or {}):
            for key in CONTEXT_KEYS:
                value = where.get(key) if isinstance(where, dict) else None
                if isinstance(value, int) and value > 0:
                    return value
    return None


def context_window_from_props(payload: Any) -> int | None:
    """The context window in a llama.cpp ``/props`` answer."""
    if not isinstance(payload, dict):
        return None
    settings = payload.get("default_generation_settings")
    for where in (settings if isinstance(settings, dict) else {}, payload):
        value = where.get("n_ctx")
        if isinstance(value, int) and value > 0:
            return value
    return None


def rejected_field(body: dict[str, Any], status: int, message: str) -> str | None:
    """The optional field to drop after a refusal: the one the message names, else the first."""
    present = [f for f in OPTIONAL_FIELDS if f in body]
    named = [f for f in present if f in message]
    if named:
        return named[0]
    # servers often say only "invalid request"; dropping optional fields one by one is bounded
    return present[0] if present and status in (400, 422) else None


def _error_text(payload: Any) -> str:
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            return str(error.get("message") or error)[:500]
        return str(error)[:500]
    return str(payload)[:500]


# ---------------------------------------------------------------- the backend


class OpenAICompatModel:
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint; cost is zero."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        context_window: int | None = None,
        stream: bool = True,
        timeout: float = 600.0,
        max_retries: int = 2,
        retry_delay: float = 1.0,
        client: httpx.Client | None = None,
        price: Price = FREE,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{self.base_url}/{model}"
        self.price = price
        self.stream = stream
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self._window: int | None = context_window
        self._dropped: set[str] = set()  # optional fields this server rejected
        self._lock = threading.Lock()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=10.0), headers=headers
        )

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAICompatModel({self.base_url!r}, {self.model!r})"

    @property
    def dropped_fields(self) -> frozenset[str]:
        """Optional request fields this server rejected (sent no more)."""
        return frozenset(self._dropped)

    @property
    def context_window(self) -> int:
        """Tokens the model can see: configured, else read from ``/models``, else a default."""
        with self._lock:
            if self._window is None:
                self._window = self._fetch_context_window() or DEFAULT_CONTEXT_WINDOW
            return self._window

    def _fetch_context_window(self) -> int | None:
        root = self.base_url.removesuffix("/v1")
        # /models may carry it (vLLM, llama.cpp meta); llama.cpp's server also has /props
        for url, read in (
            (f"{self.base_url}/models", lambda v: context_window_from_models(v, self.model)),
            (f"{root}/props", context_window_from_props),
        ):
            try:
                response = self._client.get(url)
                response.raise_for_status()
                window = read(response.json())
            except (httpx.HTTPError, ValueError):
                window = None  # not knowing the window is not fatal: the default applies
            if window:
                return window
        return None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def payload(self, request: Request) -> dict[str, Any]:
        """The JSON body for one request (minus fields this server rejected)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(request.system, request.messages),
            "max_tokens": request.max_tokens,
            "stream": self.stream,
        }
        if request.tools:
            body["tools"] = to_openai_tools(request.tools)
            body["tool_choice"] = "auto"
        if self.stream:
            body["stream_options"] = {"include_usage": True}
        for name in self._dropped:
            body.pop(name, None)
        return body

    def complete(self, request: Request, on_text: TextSink | None = None) -> Reply:
        """Answer one request, streaming text deltas to ``on_text``."""
        attempt = 0
        while True:
            body = self.payload(request)
            try:
                return self._send(body, request, on_text)
            except _Rejected as exc:
                field_name = rejected_field(body, exc.status, exc.message)
                if field_name is None:
                    raise ModelError(exc.describe(self.base_url)) from None
                self._dropped.add(field_name)
            except _Transient as exc:
                if attempt >= self.max_retries:
                    raise ModelError(exc.message) from None
                attempt += 1
                time.sleep(self.retry_delay * attempt)

    def _send(self, body: dict[str, Any], request: Request, on_text: TextSink | None) -> Reply:
        url = f"{self.base_url}/chat/completions"
        assembler = ChunkAssembler()
        try:
            with self._client.stream("POST", url, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_status(response, self.base_url)
                if not body["stream"] or "text/event-stream" not in response.headers.get(
                    "content-type", ""
                ):
                    # a server may ignore stream=True and answer with one JSON object
                    response.read()
                    assembler.add(_json(response))
                    if assembler.text and on_text is not None:
                        on_text(assembler.text)
                    return assembler.reply(request)
                for chunk in iter_sse(response.iter_lines()):
                    delta = assembler.add(chunk)
                    if delta and on_text is not None:
                        on_text(delta)
        except httpx.TransportError as exc:
            what = (
                "timed out"
                if isinstance(exc, httpx.TimeoutException)
                else f"cannot be reached: {type(exc).__name__}: {exc}"
            )
            message = f"the OpenAI-compatible server at {self.base_url} {what}"
            if assembler.text or assembler.calls:
                # text already went to on_text: a retry would show it twice
                raise ModelError(f"{message} (mid-answer)") from None
            raise _Transient(message) from None
        return assembler.reply(request)


class _Rejected(Exception):
    """A 4xx answer: the request itself was refused."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def describe(self, base_url: str) -> str:
        hint = (
            " (check the key in AGENT_MAGIC_OPENAI_KEY / OPENAI_API_KEY)"
            if self.status in (401, 403)
            else ""
        )
        hint = hint or (" (check the model name)" if self.status == 404 else "")
        # a server may echo the key it rejected
        return redact(
            f"the server at {base_url} refused the request: HTTP {self.status}: "
            f"{self.message}{hint}"
        )


class _Transient(Exception):
    """A failure worth retrying: connection trouble, overload, 5xx."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _raise_for_status(response: httpx.Response, base_url: str) -> None:
    try:
        message = _error_text(response.json())
    except ValueError:
        message = response.text[:500]
    if response.status_code in RETRY_STATUS:
        raise _Transient(
            f"the server at {base_url} answered HTTP {response.status_code}: {message}"
        )
    raise _Rejected(response.status_code, message)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        return response.json()
    except ValueError:
        raise ModelError(f"the server sent a non-JSON answer: {response.text[:200]!r}") from None
