"""An embedded GGUF model run in-process by llama-cpp-python, with schema-constrained replies.

Small local models rarely follow a tool-calling chat template, so every reply is constrained by a
JSON schema (compiled to a grammar by llama-cpp) of the shape
``{"text": str, "tool_calls": [{"name": <one of the tools>, "input": {...}}]}``: even a tiny model
can only emit a well-formed call of a tool that exists. The conversation is shown to the model in
that same shape, tool results as user messages.
"""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path
from typing import Any

from agent_magic.errors import ModelError, UserError
from agent_magic.models.base import FREE, Price, Reply, Request, TextSink, ToolCall, Usage
from agent_magic.models.openai_compat import block_text, parse_arguments
from agent_magic.tokens import estimate_tokens

DEFAULT_CONTEXT = 8192
FORMAT_PROMPT = """\
You can use these tools. Each is given as NAME: description, then its JSON input schema.
{tools}

Answer with one JSON object: {{"text": "what you say to the user", "tool_calls": \
[{{"name": "TOOL", "input": {{...}}}}]}}. Use an empty tool_calls list when you need no tool."""


def reply_schema(
    tools: list[dict[str, Any]],
    *,
    typed_inputs: bool = True,
    max_text_chars: int | None = None,
    max_calls: int | None = None,
    min_calls: int = 0,
) -> dict[str, Any]:
    """The JSON schema every constrained reply follows.

    With ``typed_inputs`` each call's input follows its tool's own schema; without, it is any
    object (for schemas the grammar compiler cannot handle).
    """
    if typed_inputs:
        call: dict[str, Any] = {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        "name": {"const": tool["name"]},
                        "input": _object_schema(tool.get("input_schema")),
                    },
                    "required": ["name", "input"],
                }
                for tool in tools
            ]
        }
    else:
        call = {
            "type": "object",
            "properties": {
                "name": {"enum": [tool["name"] for tool in tools]},
                "input": {"type": "object"},
            },
            "required": ["name", "input"],
        }
    text: dict[str, Any] = {"type": "string"}
    if max_text_chars is not None:
        text["maxLength"] = max_text_chars
    calls: dict[str, Any] = {"type": "array", "items": call}
    if max_calls is not None:
        calls["maxItems"] = max_calls
    if min_calls:
        calls["minItems"] = min_calls
    return {
        "type": "object",
        "properties": {"text": text, "tool_calls": calls},
        "required": ["text", "tool_calls"],
    }


def _object_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    schema = dict(schema or {"type": "object", "properties": {}})
    schema.pop("$schema", None)
    return schema


def parse_reply(raw: str) -> tuple[str, list[dict[str, Any]]] | None:
    """Text and tool calls of a constrained reply; ``None`` if it is not a complete one."""
    try:
        # strict=False: the grammar lets control characters into strings, as JSON may not
        value = json.loads(raw, strict=False)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    given = value.get("text")
    text = given if isinstance(given, str) else ""
    calls = []
    for call in value.get("tool_calls") or []:
        if isinstance(call, dict) and isinstance(call.get("name"), str):
            arguments = call.get("input")
            calls.append(
                {
                    "name": call["name"],
                    "input": arguments
                    if isinstance(arguments, dict)
                    else parse_arguments(json.dumps(arguments)),
                }
            )
    return text, calls


def tools_prompt(tools: list[dict[str, Any]]) -> str:
    """The tool list and the answer format, appended to the system prompt."""
    lines = [
        f"- {t['name']}: {t.get('description', '').strip()}\n  "
        f"{json.dumps(t.get('input_schema') or {})}"
        for t in tools
    ]
    return FORMAT_PROMPT.format(tools="\n".join(lines))


def to_chat_messages(
    system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """The conversation as plain system/user/assistant messages in the constrained shape."""
    system = "\n\n".join(p for p in (system, tools_prompt(tools) if tools else "") if p)
    out = [{"role": "system", "content": system}] if system else []
    names: dict[str, str] = {}
    for message in messages:
        role, content = message["role"], message["content"]
        if isinstance(content, str):
            out.append({"role": role, "content": content})
        elif role == "assistant":
            calls = [b for b in content if b.get("type") == "tool_use"]
            names.update((b["id"], b["name"]) for b in calls)
            text = block_text([b for b in content if b.get("type") == "text"])
            if tools:
                text = json.dumps(
                    {
                        "text": text,
                        "tool_calls": [
                            {"name": b["name"], "input": b.get("input", {})} for b in calls
                        ],
                    }
                )
            out.append({"role": "assistant", "content": text})
        else:
            parts = []
            for block in content:
                if block.get("type") == "tool_result":
                    name = names.get(block.get("tool_use_id", ""), "tool")
                    status = "failed" if block.get("is_error") else "returned"
                    parts.append(f"Tool {name} {status}:\n{block_text(block.get('content'))}")
                else:
                    parts.append(block_text([block]))
            out.append({"role": "user", "content": "\n\n".join(p for p in parts if p)})
    return out


class GGUFModel:
    """A GGUF model file run in-process; replies with tools are schema-constrained; cost is zero."""

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int | None = None,
        temperature: float = 0.2,
        seed: int = 0,
        n_threads: int | None = None,
        max_text_chars: int | None = None,
        max_calls: int | None = 8,
        require_tool_call: bool = True,
        llama: Any = None,
        price: Price = FREE,
    ) -> None:
        self.path = Path(path)
        self.name = f"gguf:{self.path.name}"
        self.price = price
        self.temperature = temperature
        self.max_text_chars = max_text_chars
        self.max_calls = (
            max_calls  # bounds the grammar: a weak model may otherwise list calls forever
        )
        # small models given the choice mostly answer in prose and stall the loop; every phase
        # of the agent ends with a tool call (submit_*, finish), so by default one is required
        self.require_tool_call = require_tool_call
        self._lock = threading.Lock()  # a Llama context serves one call at a time
        self._llama = llama if llama is not None else _open(self.path, n_ctx, seed, n_threads)
        self.context_window: int = self._llama.n_ctx()
        self._schemas: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"GGUFModel({str(self.path)!r})"

    def complete(self, request: Request, on_text: TextSink | None = None) -> Reply:
        """Answer one request; with tools the reply is constrained to the tool-call schema."""
        messages = to_chat_messages(request.system, request.messages, request.tools)
        with self._lock:
            if not request.tools:
                return self._chat(messages, request, on_text)
            return self._constrained(messages, request, on_text)

    def _chat(
        self, messages: list[dict[str, str]], request: Request, on_text: TextSink | None
    ) -> Reply:
        text, finish, usage = "", "stop", None
        for chunk in self._call(messages, request, stream=True):
            choice = (chunk.get("choices") or [{}])[0]
            piece = (choice.get("delta") or {}).get("content") or ""
            if piece:
                text += piece
                if on_text is not None:
                    on_text(piece)
            finish = choice.get("finish_reason") or finish
            usage = chunk.get("usage") or usage
        return Reply(
            text=text,
            stop_reason="max_tokens" if finish == "length" else "end_turn",
            usage=self._usage(usage, request, text),
        )

    def _constrained(
        self, messages: list[dict[str, str]], request: Request, on_text: TextSink | None
    ) -> Reply:
        (response,) = self._call(
            messages,
            request,
            stream=False,
            response_format={"type": "json_object", "schema": self._schema(request.tools)},
        )
        choice = response["choices"][0]
        raw = choice["message"].get("content") or ""
        usage = self._usage(response.get("usage"), request, raw)
        parsed = parse_reply(raw)
        if parsed is None:
            # only a reply cut off by max_tokens can break the grammar; hand over what came
            if raw and on_text is not None:
                on_text(raw)
            return Reply(text=raw, stop_reason="max_tokens", usage=usage)
        text, calls = parsed
        if text and on_text is not None:
            on_text(text)
        tool_calls = [
            ToolCall(id=f"call_gguf_{_next_id()}", name=c["name"], input=c["input"]) for c in calls
        ]
        return Reply(
            text=text,
            tool_calls=tool_calls,
            stop_reason="tool_use" if tool_calls else "end_turn",
            usage=usage,
        )

    def _schema(self, tools: list[dict[str, Any]]) -> dict[str, Any]:
        key = json.dumps(tools, sort_keys=True, default=str)
        if key not in self._schemas:
            build = functools.partial(
                reply_schema,
                tools,
                max_text_chars=self.max_text_chars,
                max_calls=self.max_calls,
                min_calls=int(self.require_tool_call),
            )
            schema = build()
            if not _compiles(schema):
                schema = build(typed_inputs=False)
            self._schemas[key] = schema
        return self._schemas[key]

    def _call(
        self, messages: list[dict[str, str]], request: Request, *, stream: bool, **kw: Any
    ) -> Any:
        try:
            result = self._llama.create_chat_completion(
                messages=messages,
                max_tokens=request.max_tokens,
                temperature=self.temperature,
                stream=stream,
                **kw,
            )
            if stream:
                # a generator only raises once iterated: pull it here to map its errors too
                yield from result
            else:
                yield result
        except ValueError as exc:  # llama-cpp's way to say the prompt does not fit
            raise ModelError(
                f"{self.name}: {exc} (context window {self.context_window} tokens)"
            ) from None

    def _usage(self, usage: dict[str, Any] | None, request: Request, out: str) -> Usage:
        usage = usage or {}
        return Usage(
            input_tokens=usage.get("prompt_tokens")
            or estimate_tokens([request.system, request.tools, request.messages]),
            output_tokens=usage.get("completion_tokens") or estimate_tokens(out),
        )


_ids = iter(range(1, 1 << 62))
_ids_lock = threading.Lock()


def _next_id() -> int:
    with _ids_lock:
        return next(_ids)


def _compiles(schema: dict[str, Any]) -> bool:
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception:  # noqa: BLE001 - the compiler raises assorted errors for what it cannot express
        return False
    return True


def _open(path: Path, n_ctx: int | None, seed: int, n_threads: int | None) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ModelError(
            "gguf models need llama-cpp-python: pip install 'agent-magic[local]'"
        ) from None
    try:
        # n_ctx=0 would take the training context, which can need gigabytes of KV cache
        return Llama(
            model_path=str(path),
            n_ctx=n_ctx or DEFAULT_CONTEXT,
            seed=seed,
            n_threads=n_threads,
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        # the path came from the user: a file llama.cpp cannot load is their mistake to fix
        raise UserError(f"cannot load GGUF model {path}: {exc}") from None
