"""Prompt-cache accounting of the fake server, as pure functions over request bodies."""

from __future__ import annotations

import pytest

from agent_magic.testing.cache_accounting import BadRequest, PromptCache, request_segments

CC = {"type": "ephemeral"}
BIG = "x" * 400  # 100 tokens at 4 characters a token


def body(*messages, system=BIG, tools=1, mark_system=True, mark_last=True):
    tool_list = [{"name": f"t{i}", "description": BIG, "input_schema": {}} for i in range(tools)]
    if tool_list:
        tool_list[-1] = {**tool_list[-1], "cache_control": CC}
    sys_block = {"type": "text", "text": system, **({"cache_control": CC} if mark_system else {})}
    msgs = [{"role": role, "content": [{"type": "text", "text": text}]} for role, text in messages]
    if mark_last:
        msgs[-1]["content"][-1]["cache_control"] = CC
    return {"tools": tool_list, "system": [sys_block], "messages": msgs}


def total(b):
    return sum(s.tokens for s in request_segments(b))


def test_first_request_writes_everything_up_to_the_last_breakpoint():
    cache = PromptCache(min_tokens=0)
    b = body(("user", BIG))
    usage = cache.account(request_segments(b))
    assert (usage.input_tokens, usage.cache_read_input_tokens) == (0, 0)
    assert usage.cache_creation_input_tokens == total(b)


def test_next_turn_reads_the_previous_prefix_and_writes_only_the_new_part():
    cache = PromptCache(min_tokens=0)
    first = body(("user", BIG))
    cache.account(request_segments(first))
    second = body(("user", BIG), ("assistant", "ok " * 50), ("user", BIG))
    usage = cache.account(request_segments(second))
    assert usage.cache_read_input_tokens == total(first)
    assert usage.cache_creation_input_tokens == total(second) - total(first)
    assert usage.input_tokens == 0


def test_identical_request_is_all_cache_read():
    cache = PromptCache(min_tokens=0)
    b = body(("user", BIG))
    cache.account(request_segments(b))
    usage = cache.account(request_segments(b))
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (total(b), 0)


def test_changed_system_prompt_invalidates_what_follows_it():
    cache = PromptCache(min_tokens=0)
    cache.account(request_segments(body(("user", BIG))))
    usage = cache.account(request_segments(body(("user", BIG), system="y" * 400)))
    tools_only = total({"tools": body(("user", "a"))["tools"]})
    assert usage.cache_read_input_tokens == tools_only


def test_without_breakpoints_everything_is_plain_input():
    cache = PromptCache(min_tokens=0)
    b = body(("user", BIG), tools=0, mark_system=False, mark_last=False)
    for _ in range(2):
        usage = cache.account(request_segments(b))
        assert usage.input_tokens == total(b)
        assert usage.cache_read_input_tokens == usage.cache_creation_input_tokens == 0


def test_tokens_after_the_last_breakpoint_are_plain_input():
    cache = PromptCache(min_tokens=0)
    b = body(("user", BIG), mark_last=False)
    usage = cache.account(request_segments(b))
    head = total({k: v for k, v in b.items() if k != "messages"})
    assert usage.cache_creation_input_tokens == head
    assert usage.input_tokens == total(b) - head


def test_prefix_below_the_minimum_is_not_cached():
    cache = PromptCache(min_tokens=10_000)
    b = body(("user", BIG))
    for _ in range(2):
        usage = cache.account(request_segments(b))
        assert usage.input_tokens == total(b)


def test_moving_the_breakpoint_keeps_the_cached_prefix():
    # cache_control is not part of the content: the marker moving forward keeps the hit.
    cache = PromptCache(min_tokens=0)
    first = body(("user", BIG), ("assistant", BIG), ("user", BIG))
    cache.account(request_segments(first))
    again = body(
        ("user", BIG), ("assistant", BIG), ("user", BIG), ("assistant", "a"), ("user", "b")
    )
    assert cache.account(request_segments(again)).cache_read_input_tokens == total(first)


def test_lookback_is_bounded():
    cache = PromptCache(min_tokens=0, lookback=2)
    first = body(("user", BIG))
    cache.account(request_segments(first))
    later = body(("user", BIG), *[("assistant", "a"), ("user", "b")] * 3)
    tools_and_system = total({k: v for k, v in first.items() if k != "messages"})
    assert cache.account(request_segments(later)).cache_read_input_tokens == tools_and_system


@pytest.mark.parametrize(
    "bad, message",
    [
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "a", "cache_control": CC}],
                    }
                ]
            },
            None,
        ),
        (
            {"system": [{"type": "text", "text": "", "cache_control": CC}], "messages": []},
            "empty text",
        ),
        (
            {"tools": [{"name": str(i), "cache_control": CC} for i in range(5)], "messages": []},
            "maximum of 4",
        ),
        ({"messages": [{"role": "user", "content": ["not a block"]}]}, "must be objects"),
    ],
)
def test_requests_the_api_would_reject(bad, message):
    if message is None:
        request_segments(bad)  # the control case: a valid body
        return
    with pytest.raises(BadRequest, match=message):
        request_segments(bad)


def test_string_system_and_string_content_are_segments():
    segments = request_segments(
        {"system": "abcd" * 10, "messages": [{"role": "user", "content": "hi"}]}
    )
    # 4 characters a token of each block's JSON: {"type": "text", "text": ...}
    assert [s.tokens for s in segments] == [(28 + 40) // 4, (28 + 2) // 4]
    assert not any(s.breakpoint for s in segments)
