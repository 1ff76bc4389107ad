"""The request rules of the Messages API, as the fake server enforces them (pure functions).

``check(body, ...)`` raises ``Rejected(status, type, message)`` for the first rule a request
breaks, with the status and error type the API documents: 400 ``invalid_request_error`` for a
malformed request, 404 ``not_found_error`` for an unknown model, 413 ``request_too_large`` for a
body over the size limit. Messages follow the API's wording where it is documented, so a test
that matches on them also matches the real thing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent_magic.models.catalog import EFFORTS, ModelSpec, spec_for
from agent_magic.tokens import estimate_tokens

MAX_BREAKPOINTS = 4
MAX_REQUEST_BYTES = 32 * 1024 * 1024
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
USER_BLOCKS = {"text", "image", "document", "tool_result", "search_result"}
ASSISTANT_BLOCKS = {"text", "tool_use", "thinking", "redacted_thinking"}
SAMPLING = ("temperature", "top_p", "top_k")


@dataclass
class Rejected(Exception):
    """A request the API refuses: HTTP status, error type, message."""

    status: int
    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


def _bad(message: str) -> Rejected:
    return Rejected(400, "invalid_request_error", message)


SignatureCheck = Callable[[dict[str, Any]], bool]


def check(
    body: Any,
    *,
    size: int = 0,
    max_bytes: int = MAX_REQUEST_BYTES,
    context_window: int | None = None,
    signature_ok: SignatureCheck = lambda block: True,
    issued: Callable[[str], list[dict[str, Any]] | None] = lambda tool_id: None,
    paused: Callable[[list[dict[str, Any]]], bool] = lambda blocks: False,
) -> ModelSpec:
    """Validate a request body; return the model's spec, or raise ``Rejected``.

    ``signature_ok`` verifies a thinking block's signature; ``issued`` returns the assistant
    content the server sent with a tool_use id (to check that thinking comes back unchanged);
    ``paused`` tells whether a final assistant message ends with a reply sent with ``pause_turn``
    (continuing it is not a prefill).
    """
    if size > max_bytes:
        raise Rejected(
            413,
            "request_too_large",
            f"Request exceeds the maximum allowed number of bytes ({max_bytes}).",
        )
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            raise _bad(f"{name}: Field required")
    spec = spec_for(str(body["model"]))
    if spec is None:
        raise Rejected(404, "not_found_error", f"model: {body['model']}")
    _check_max_tokens(body["max_tokens"], spec)
    thinking = _check_thinking(body, spec)
    _check_sampling(body, spec, thinking)
    _check_options(body)
    tools = _check_tools(body, spec, thinking)
    _check_system(body.get("system"))
    _check_messages(body["messages"], tools, thinking, signature_ok, issued)
    _check_prefill(body["messages"], thinking, paused)
    _check_ttl_order(body)
    breakpoints = _count_breakpoints(body)
    if breakpoints > MAX_BREAKPOINTS:
        raise _bad(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {breakpoints}."
        )
    window = context_window or spec.context_window
    prompt = estimate_tokens([body.get("system"), body.get("tools"), body["messages"]])
    if prompt > window:
        raise _bad(f"prompt is too long: {prompt} tokens > {window} maximum")
    return spec


def _check_max_tokens(value: Any, spec: ModelSpec) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad("max_tokens: Input should be a valid integer")
    if value < 1:
        raise _bad("max_tokens: Input should be greater than or equal to 1")
    if value > spec.max_output:
        raise _bad(
            f"max_tokens: {value} > {spec.max_output}, which is the maximum allowed number "
            f"of output tokens for {spec.id}"
        )


def _check_sampling(body: dict[str, Any], spec: ModelSpec, thinking: bool) -> None:
    given = [name for name in SAMPLING if body.get(name) is not None]
    if given and not spec.sampling:
        raise _bad(
            f"{given[0]}: setting sampling parameters is not supported for {spec.id}; "
            "remove temperature, top_p and top_k"
        )
    temperature, top_p, top_k = (body.get(name) for name in SAMPLING)
    for name, value in (("temperature", temperature), ("top_p", top_p)):
        if value is not None and not (
            isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
        ):
            bound = (
                "less than or equal to 1"
                if isinstance(value, (int, float)) and value > 1
                else "a number greater than or equal to 0"
            )
            raise _bad(f"{name}: Input should be {bound}")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0):
        raise _bad("top_k: Input should be an integer greater than or equal to 0")
    if temperature is not None and top_p is not None:
        raise _bad(
            "`temperature` and `top_p` cannot both be specified for this model. "
            "Please use only one."
        )
    if thinking:
        if temperature is not None and temperature != 1:
            raise _bad("`temperature` may only be set to 1 when thinking is enabled.")
        if top_k is not None:
            raise _bad("`top_k` is not supported when thinking is enabled.")
        if top_p is not None and not 0.95 <= top_p <= 1:
            raise _bad("`top_p` must be between 0.95 and 1 when thinking is enabled.")


def _check_options(body: dict[str, Any]) -> None:
    """``stop_sequences``, ``metadata``, ``stream``."""
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(x, str) for x in stops):
            raise _bad("stop_sequences: Input should be a valid list of strings")
        if any(not x.strip() for x in stops):
            raise _bad("stop_sequences: each stop sequence must contain non-whitespace")
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise _bad("metadata: Input should be an object")
        extra = sorted(set(metadata) - {"user_id"})
        if extra:
            raise _bad(f"metadata.{extra[0]}: Extra inputs are not permitted")
        user = metadata.get("user_id")
        if user is not None and (not isinstance(user, str) or len(user) > 256):
            raise _bad("metadata.user_id: String should have at most 256 characters")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise _bad("stream: Input should be a valid boolean")


def _check_thinking(body: dict[str, Any], spec: ModelSpec) -> bool:
    """Check ``thinking`` and ``output_config``; True if the reply will think."""
    config = body.get("output_config") or {}
    if not isinstance(config, dict):
        raise _bad("output_config: Input should be an object")
    effort = config.get("effort")
    if effort is not None:
        if effort not in EFFORTS:
            raise _bad(f"output_config.effort: Input should be {', '.join(map(repr, EFFORTS))}")
        if spec.default_effort is None:
            raise _bad(f"output_config.effort: effort is not supported for {spec.id}")
    thinking = body.get("thinking")
    if thinking is None:
        return spec.thinks_by_default
    if not isinstance(thinking, dict) or not isinstance(thinking.get("type"), str):
        raise _bad("thinking.type: Field required")
    kind = thinking["type"]
    if kind not in ("adaptive", "enabled", "disabled", "between_tools"):
        raise _bad(
            f"thinking.type: Input tag '{kind}' found using 'type' does not match any of "
            "the expected tags: 'adaptive', 'between_tools', 'disabled', 'enabled'"
        )
    if kind in spec.rejects:
        hint = (
            ' Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
            if kind != "adaptive"
            else ""
        )
        raise _bad(f'"thinking.type.{kind}" is not supported for this model.{hint}')
    if (
        kind == "disabled"
        and effort
        and EFFORTS.index(effort) > EFFORTS.index(spec.disable_max_effort)
    ):
        raise _bad(
            f"thinking can be disabled only at effort {spec.disable_max_effort} or lower "
            f"on {spec.id}"
        )
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise _bad(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            )
        if budget >= body["max_tokens"]:
            raise _bad("`max_tokens` must be greater than `thinking.budget_tokens`")
    display = thinking.get("display")
    if display not in (None, "summarized", "omitted"):
        raise _bad("thinking.display: Input should be 'summarized' or 'omitted'")
    return kind in ("adaptive", "enabled", "between_tools")


def _check_tools(body: dict[str, Any], spec: ModelSpec, thinking: bool) -> set[str]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise _bad("tools: Input should be a valid list")
    names: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _bad(f"tools.{i}: Input should be an object")
        name = tool.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            raise _bad(f"tools.{i}.custom.name: String should match pattern '{TOOL_NAME.pattern}'")
        if name in names:
            raise _bad(f"tools: Tool names must be unique. Found duplicate: {name}")
        names.add(name)
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise _bad(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
    choice = body.get("tool_choice")
    if choice is not None and (
        not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none")
    ):
        raise _bad(
            "tool_choice.type: Input tag found using 'type' does not match any of the "
            "expected tags: 'auto', 'any', 'tool', 'none'"
        )
    if isinstance(choice, dict):
        forced = choice.get("type") in ("any", "tool")
        if forced and not names:
            raise _bad("tool_choice may only be specified while providing tools.")
        if forced and thinking and spec.forced_tools:
            raise _bad("Thinking may not be enabled when tool_choice forces tool use.")
        if forced and not spec.forced_tools:
            raise _bad(
                f"tool_choice.type '{choice['type']}' (forced tool use) is not supported "
                f"for {spec.id}; use 'auto' or 'none'"
            )
        if choice.get("type") == "tool" and choice.get("name") not in names:
            raise _bad(f"tool_choice.name: no tool named {choice.get('name')!r}")
    return names


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise _bad("system: Input should be a valid string or list of text blocks")
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _bad(f"system.{i}: Input should be a text block")
        _check_text(block, f"system.{i}")


def _check_text(block: dict[str, Any], where: str) -> None:
    text = block.get("text")
    if not isinstance(text, str) or not text:
        raise _bad(f"{where}: text content blocks must be non-empty")
    if not text.strip():
        raise _bad(f"{where}: text content blocks must contain non-whitespace text")


def _blocks(
    message: dict[str, Any], where: str, final_assistant: bool = False
) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        if not content.strip() and not (final_assistant and content == ""):
            raise _bad(
                f"{where}: all messages must have non-empty content except for the optional "
                "final assistant message"
            )
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _bad(f"{where}.content: Input should be a valid string or list")
    if not content and not final_assistant:
        raise _bad(
            f"{where}: all messages must have non-empty content except for the optional "
            "final assistant message"
        )
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _bad(f"{where}.content.{j}: Input should be a content block object")
    return content


def _check_messages(
    messages: Any,
    tools: set[str],
    thinking: bool,
    signature_ok: SignatureCheck,
    issued: Callable[[str], list[dict[str, Any]] | None],
) -> None:
    if not isinstance(messages, list) or not messages:
        raise _bad("messages: at least one message is required")
    pending: list[str] = []  # tool_use ids of the previous assistant message
    seen_ids: set[str] = set()
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _bad(f"{where}.role: Input should be 'user' or 'assistant'")
        role = message["role"]
        if i == 0 and role != "user":
            raise _bad('messages: first message must use the "user" role')
        if i > 0 and messages[i - 1].get("role") == role:
            raise _bad(
                f'messages: roles must alternate between "user" and "assistant", but '
                f'found multiple "{role}" roles in a row ({where})'
            )
        blocks = _blocks(
            message, where, final_assistant=role == "assistant" and i == len(messages) - 1
        )
        allowed = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
        for j, block in enumerate(blocks):
            if block["type"] not in allowed:
                raise _bad(
                    f"{where}.content.{j}.type: '{block['type']}' blocks are not allowed in "
                    f"{role} messages"
                )
            if block["type"] == "text":
                _check_text(block, f"{where}.content.{j}")
            if block["type"] == "image":
                _check_image(block, f"{where}.content.{j}")
            if block["type"] == "tool_result":
                _check_result_content(block, f"{where}.content.{j}")
            if block["type"] in ("thinking", "redacted_thinking"):
                if block.get("cache_control") is not None:
                    raise _bad(
                        f"{where}.content.{j}: cache_control cannot be set on thinking blocks"
                    )
                if not signature_ok(block):
                    raise _bad(f"{where}.content.{j}: Invalid `signature` in `thinking` block")
        if role == "user":
            _check_results(blocks, pending, where)
            pending = []
        else:
            pending = _check_tool_uses(blocks, tools, where)
            if seen_ids & set(pending):
                raise _bad(
                    f"{where}: `tool_use` ids must be unique across the conversation: "
                    f"{', '.join(sorted(seen_ids & set(pending)))}"
                )
            seen_ids.update(pending)
            if pending and (i == len(messages) - 2 or i == len(messages) - 1):
                _check_thinking_kept(blocks, pending, thinking, issued, where)
    if pending:
        raise _bad(
            f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` "
            f"blocks immediately after: {', '.join(pending)}. Each `tool_use` block must "
            "have a corresponding `tool_result` block in the next message."
        )


def _check_tool_uses(blocks: list[dict[str, Any]], tools: set[str], where: str) -> list[str]:
    ids: list[str] = []
    for j, block in enumerate(blocks):
        if block["type"] != "tool_use":
            continue
        if not tools:
            raise _bad(
                "Requests which include `tool_use` or `tool_result` blocks must define tools."
            )
        if not isinstance(block.get("input"), dict):
            raise _bad(f"{where}.content.{j}.tool_use.input: Input should be a valid dictionary")
        if block.get("id") in ids:
            raise _bad(f"{where}: `tool_use` ids must be unique")
        ids.append(str(block.get("id")))
    return ids


def _check_results(blocks: list[dict[str, Any]], pending: list[str], where: str) -> None:
    results = [b for b in blocks if b["type"] == "tool_result"]
    if not results and not pending:
        return
    seen_other = False
    for block in blocks:
        if block["type"] != "tool_result":
            seen_other = True
        elif seen_other:
            raise _bad(
                f"{where}: `tool_result` blocks must come first in the user message that "
                "answers a `tool_use`, before any other content"
            )
    answered = [str(b.get("tool_use_id")) for b in results]
    twice = sorted({t for t in answered if answered.count(t) > 1})
    if twice:
        raise _bad(
            f"{where}: each `tool_use` must have a single `tool_result`; found more than "
            f"one for {', '.join(twice)}"
        )
    unexpected = [t for t in answered if t not in pending]
    if unexpected:
        raise _bad(
            f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
            f"{', '.join(unexpected)}. Each `tool_result` block must have a corresponding "
            "`tool_use` block in the previous message."
        )
    missing = [t for t in pending if t not in answered]
    if missing:
        raise _bad(
            f"{where}: `tool_use` ids were found without `tool_result` blocks immediately "
            f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
            "`tool_result` block in the next message."
        )


def _check_thinking_kept(
    blocks: list[dict[str, Any]],
    ids: list[str],
    thinking: bool,
    issued: Callable[[str], list[dict[str, Any]] | None],
    where: str,
) -> None:
    """The assistant turn the tool results answer must carry its thinking blocks unchanged."""
    if not thinking:
        return
    sent = issued(ids[0])
    if sent is None:
        return
    sent_thinking = [b for b in sent if b["type"] in ("thinking", "redacted_thinking")]
    echoed = [
        {k: v for k, v in b.items() if k != "cache_control"}
        for b in blocks
        if b["type"] in ("thinking", "redacted_thinking")
    ]
    if sent_thinking and blocks[0]["type"] not in ("thinking", "redacted_thinking"):
        raise _bad(
            f"{where}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            f"`{blocks[0]['type']}`. When `thinking` is enabled, a final `assistant` message "
            "must start with a thinking block (preceding the lastmost set of `tool_use` and "
            "`tool_result` blocks). To avoid this requirement, disable `thinking`."
        )
    # After a pause_turn the turn holds earlier thinking too: the sent blocks end it, unchanged.
    if echoed[len(echoed) - len(sent_thinking) :] != sent_thinking:
        raise _bad(
            f"{where}: `thinking` or `redacted_thinking` blocks in the latest assistant "
            "message cannot be modified. These blocks must remain as they were in the "
            "original response."
        )


IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
RESULT_BLOCKS = {"text", "image", "document", "search_result"}


def _check_image(block: dict[str, Any], where: str) -> None:
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") not in ("base64", "url", "file"):
        raise _bad(
            f"{where}.source: Input tag found using 'type' does not match any of the "
            "expected tags: 'base64', 'url', 'file'"
        )
    if source["type"] == "base64":
        if source.get("media_type") not in IMAGE_TYPES:
            raise _bad(
                f"{where}.source.media_type: Input should be {', '.join(map(repr, IMAGE_TYPES))}"
            )
        if not isinstance(source.get("data"), str) or not source["data"]:
            raise _bad(f"{where}.source.data: Field required")
    elif source["type"] == "url" and not isinstance(source.get("url"), str):
        raise _bad(f"{where}.source.url: Field required")


def _check_result_content(block: dict[str, Any], where: str) -> None:
    """A tool_result's content: a string or a list of text, image, document, search_result blocks."""
    content = block.get("content")
    if content is None or isinstance(content, str):
        empty = not content
    elif isinstance(content, list):
        for k, inner in enumerate(content):
            if not isinstance(inner, dict) or inner.get("type") not in RESULT_BLOCKS:
                raise _bad(
                    f"{where}.content.{k}.type: only text, image, document and "
                    "search_result blocks are allowed in a tool_result"
                )
            if inner["type"] == "text":
                _check_text(inner, f"{where}.content.{k}")
            if inner["type"] == "image":
                _check_image(inner, f"{where}.content.{k}")
        empty = not content
    else:
        raise _bad(f"{where}.content: Input should be a valid string or list")
    if empty and block.get("is_error"):
        raise _bad(f"{where}: content cannot be empty if `is_error` is true")


def _check_prefill(
    messages: list[Any], thinking: bool, paused: Callable[[list[dict[str, Any]]], bool]
) -> None:
    """A final assistant message is a prefill, unless it continues a paused turn."""
    last = messages[-1]
    if last.get("role") != "assistant":
        return
    content = last.get("content")
    blocks = (
        [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
    )
    if paused([{k: v for k, v in b.items() if k != "cache_control"} for b in blocks]):
        return
    if thinking:
        raise _bad("Prefilling the assistant message is not supported when thinking is enabled.")
    if (
        blocks
        and blocks[-1].get("type") == "text"
        and blocks[-1].get("text", "") != blocks[-1].get("text", "").rstrip()
    ):
        raise _bad("final assistant content cannot end with trailing whitespace")


def _check_ttl_order(body: dict[str, Any]) -> None:
    """Breakpoints with a 1-hour TTL must all come before those with the default 5 minutes."""
    blocks = list(body.get("tools") or [])
    system = body.get("system")
    blocks += list(system) if isinstance(system, list) else []
    for message in body["messages"]:
        content = message.get("content")
        blocks += content if isinstance(content, list) else []
    seen_short = False
    for block in blocks:
        control = block.get("cache_control") if isinstance(block, dict) else None
        if control is None:
            continue
        if not isinstance(control, dict) or control.get("type") != "ephemeral":
            raise _bad("cache_control.type: Input should be 'ephemeral'")
        if control.get("ttl", "5m") == "1h" and seen_short:
            raise _bad(
                "a ttl='1h' cache_control block must not come after a ttl='5m' "
                "cache_control block; 1h entries must appear before 5m entries"
            )
        seen_short = seen_short or control.get("ttl", "5m") == "5m"


def _count_breakpoints(body: dict[str, Any]) -> int:
    count = 0
    if isinstance(body.get("cache_control"), dict):
        count += 1
    for tool in body.get("tools") or []:
        count += isinstance(tool, dict) and tool.get("cache_control") is not None
    system = body.get("system")
    blocks = list(system) if isinstance(system, list) else []
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, list):
            blocks += content
    for block in blocks:
        if isinstance(block, dict) and block.get("cache_control") is not None:
            if block.get("type") == "text" and not block.get("text"):
                raise _bad("cache_control cannot be set for empty text blocks")
            count += 1
    return count
