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
from agent_magic.models.scripted import estimate_tokens

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
) -> ModelSpec:
    """Validate a request body; return the model's spec, or raise ``Rejected``.

    ``signature_ok`` verifies a thinking block's signature; ``issued`` returns the assistant
    content the server sent with a tool_use id (to check that thinking comes back unchanged).
    """
    if size > max_bytes:
        raise Rejected(413, "request_too_large",
                       f"Request exceeds the maximum allowed number of bytes ({max_bytes}).")
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            raise _bad(f"{name}: Field required")
    spec = spec_for(str(body["model"]))
    if spec is None:
        raise Rejected(404, "not_found_error", f"model: {body['model']}")
    _check_max_tokens(body["max_tokens"], spec)
    _check_sampling(body, spec)
    thinking = _check_thinking(body, spec)
    tools = _check_tools(body, spec)
    _check_system(body.get("system"))
    _check_messages(body["messages"], tools, thinking, signature_ok, issued)
    breakpoints = _count_breakpoints(body)
    if breakpoints > MAX_BREAKPOINTS:
        raise _bad(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                   f"Found {breakpoints}.")
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
        raise _bad(f"max_tokens: {value} > {spec.max_output}, which is the maximum allowed number "
                   f"of output tokens for {spec.id}")


def _check_sampling(body: dict[str, Any], spec: ModelSpec) -> None:
    given = [name for name in SAMPLING if body.get(name) is not None]
    if given and not spec.sampling:
        raise _bad(f"{given[0]}: setting sampling parameters is not supported for {spec.id}; "
                   "remove temperature, top_p and top_k")
    temperature = body.get("temperature")
    if temperature is not None and not (isinstance(temperature, (int, float)) and 0 <= temperature <= 1):
        raise _bad("temperature: Input should be less than or equal to 1")


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
        raise _bad(f"thinking.type: Input tag '{kind}' found using 'type' does not match any of "
                   "the expected tags: 'adaptive', 'between_tools', 'disabled', 'enabled'")
    if kind in spec.rejects:
        hint = (" Use \"thinking.type.adaptive\" and \"output_config.effort\" to control thinking "
                "behavior." if kind != "adaptive" else "")
        raise _bad(f"\"thinking.type.{kind}\" is not supported for this model.{hint}")
    if kind == "disabled" and effort and EFFORTS.index(effort) > EFFORTS.index(spec.disable_max_effort):
        raise _bad(f"thinking can be disabled only at effort {spec.disable_max_effort} or lower "
                   f"on {spec.id}")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise _bad("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if budget >= body["max_tokens"]:
            raise _bad("`max_tokens` must be greater than `thinking.budget_tokens`")
    display = thinking.get("display")
    if display not in (None, "summarized", "omitted"):
        raise _bad("thinking.display: Input should be 'summarized' or 'omitted'")
    return kind in ("adaptive", "enabled", "between_tools")


def _check_tools(body: dict[str, Any], spec: ModelSpec) -> set[str]:
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
    if isinstance(choice, dict):
        if choice.get("type") in ("any", "tool") and not spec.forced_tools:
            raise _bad(f"tool_choice.type '{choice['type']}' (forced tool use) is not supported "
                       f"for {spec.id}; use 'auto' or 'none'")
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


def _blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        if not content.strip():
            raise _bad(f"{where}: all messages must have non-empty content except for the optional "
                       "final assistant message")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _bad(f"{where}.content: Input should be a valid string or list")
    if not content:
        raise _bad(f"{where}: all messages must have non-empty content except for the optional "
                   "final assistant message")
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _bad(f"{where}.content.{j}: Input should be a content block object")
    return content


def _check_messages(
    messages: Any, tools: set[str], thinking: bool, signature_ok: SignatureCheck,
    issued: Callable[[str], list[dict[str, Any]] | None],
) -> None:
    if not isinstance(messages, list) or not messages:
        raise _bad("messages: at least one message is required")
    pending: list[str] = []  # tool_use ids of the previous assistant message
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _bad(f"{where}.role: Input should be 'user' or 'assistant'")
        role = message["role"]
        if i == 0 and role != "user":
            raise _bad("messages: first message must use the \"user\" role")
        if i > 0 and messages[i - 1].get("role") == role:
            raise _bad(f"messages: roles must alternate between \"user\" and \"assistant\", but "
                       f"found multiple \"{role}\" roles in a row ({where})")
        blocks = _blocks(message, where)
        allowed = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
        for j, block in enumerate(blocks):
            if block["type"] not in allowed:
                raise _bad(f"{where}.content.{j}.type: '{block['type']}' blocks are not allowed in "
                           f"{role} messages")
            if block["type"] == "text":
                _check_text(block, f"{where}.content.{j}")
            if block["type"] in ("thinking", "redacted_thinking"):
                if block.get("cache_control") is not None:
                    raise _bad(f"{where}.content.{j}: cache_control cannot be set on thinking blocks")
                if not signature_ok(block):
                    raise _bad(f"{where}.content.{j}: Invalid `signature` in `thinking` block")
        if role == "user":
            _check_results(blocks, pending, where)
            pending = []
        else:
            pending = _check_tool_uses(blocks, tools, where)
            if pending and (i == len(messages) - 2 or i == len(messages) - 1):
                _check_thinking_kept(blocks, pending, thinking, issued, where)
    if pending:
        raise _bad(f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` "
                   f"blocks immediately after: {', '.join(pending)}. Each `tool_use` block must "
                   "have a corresponding `tool_result` block in the next message.")


def _check_tool_uses(blocks: list[dict[str, Any]], tools: set[str], where: str) -> list[str]:
    ids: list[str] = []
    for j, block in enumerate(blocks):
        if block["type"] != "tool_use":
            continue
        if not tools:
            raise _bad("Requests which include `tool_use` or `tool_result` blocks must define tools.")
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
            raise _bad(f"{where}: `tool_result` blocks must come first in the user message that "
                       "answers a `tool_use`, before any other content")
    answered = [str(b.get("tool_use_id")) for b in results]
    unexpected = [t for t in answered if t not in pending]
    if unexpected:
        raise _bad(f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                   f"{', '.join(unexpected)}. Each `tool_result` block must have a corresponding "
                   "`tool_use` block in the previous message.")
    missing = [t for t in pending if t not in answered]
    if missing:
        raise _bad(f"{where}: `tool_use` ids were found without `tool_result` blocks immediately "
                   f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                   "`tool_result` block in the next message.")


def _check_thinking_kept(
    blocks: list[dict[str, Any]], ids: list[str], thinking: bool,
    issued: Callable[[str], list[dict[str, Any]] | None], where: str,
) -> None:
    """The assistant turn the tool results answer must carry its thinking blocks unchanged."""
    if not thinking:
        return
    sent = issued(ids[0])
    if sent is None:
        return
    sent_thinking = [b for b in sent if b["type"] in ("thinking", "redacted_thinking")]
    echoed = [{k: v for k, v in b.items() if k != "cache_control"}
              for b in blocks if b["type"] in ("thinking", "redacted_thinking")]
    if sent_thinking and blocks[0]["type"] not in ("thinking", "redacted_thinking"):
        raise _bad(f"{where}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                   f"`{blocks[0]['type']}`. When `thinking` is enabled, a final `assistant` message "
                   "must start with a thinking block (preceding the lastmost set of `tool_use` and "
                   "`tool_result` blocks). To avoid this requirement, disable `thinking`.")
    # After a pause_turn the turn holds earlier thinking too: the sent blocks end it, unchanged.
    if echoed[len(echoed) - len(sent_thinking):] != sent_thinking:
        raise _bad(f"{where}: `thinking` or `redacted_thinking` blocks in the latest assistant "
                   "message cannot be modified. These blocks must remain as they were in the "
                   "original response.")


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
