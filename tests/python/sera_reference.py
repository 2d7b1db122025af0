"""SERA's Hermes post-processing, restated from its behaviour, as the oracle for sera-rs's
import -> hermes equivalence test.

SERA (allenai, `sera/datagen/data/postprocess`) turns a SWE-agent history into axolotl rows in
three steps, with `add_think=True`, `add_train_key=True` and
`reformat_assistant_message="keep_only_think"`:

1. Drop the last history message. Tool messages become `user` messages wrapped in
   `<tool_response>\\n...\\n</tool_response>`; list contents are their one text part; the system
   prompt is replaced by a fixed one; an assistant message with tool calls becomes
   `<think>\\n{content.strip()}\\n</think>` + `\\n\\n` + its calls, each
   `<tool_call>\\n{json.dumps({"name", "arguments"})}\\n</tool_call>`, joined by `\\n`.
   An assistant message without tool calls makes SERA call an undefined function (a crash);
   here it returns None, like SERA's other failures.
2. `train` is True on assistant messages only.
3. Each message holding `<think>` must have exactly one think block, rewritten as
   `<think>\\n{inner.strip()}\\n</think>`; each assistant message must match
   `(<think>...</think>)?(commentary)(<tool_call>...</tool_call>)`; the result is the think block
   (or the commentary wrapped in one, if the block is empty), `\\n\\n`, then the tool calls.

The system message is left out of the comparison's scope here (`None`): SERA hard-codes its
own tool descriptions, sera-rs renders the trajectory's tools in the same framing.

Run as a script to regenerate tests/data/trajectories/sera/expected-hermes.jsonl.
"""

import json
import re
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "trajectories" / "sera"


def _text(content):
    if isinstance(content, list):
        assert len(content) == 1
        return content[0]["text"]
    return content


def _calls(tool_calls):
    blocks = []
    for call in tool_calls:
        body = {"name": call["function"]["name"], "arguments": json.loads(call["function"]["arguments"])}
        blocks.append("<tool_call>\n" + json.dumps(body) + "\n</tool_call>")
    return "\n".join(blocks)


def to_hermes(history):
    out = []
    for message in history[:-1]:
        role = message["role"]
        if role == "system":
            out.append({"role": "system", "content": None, "train": False})
        elif role == "tool":
            out.append({"role": "user", "content": "<tool_response>\n" + _text(message["content"]) + "\n</tool_response>", "train": False})
        elif role == "assistant":
            if not message.get("tool_calls"):
                return None
            think = "\n".join(["<think>", message["content"].strip(), "</think>"])
            out.append({"role": "assistant", "content": think + "\n\n" + _calls(message["tool_calls"]), "train": True})
        else:
            out.append({"role": role, "content": _text(message["content"]), "train": False})
    for message in out:
        content = message["content"]
        if content is None or "<think>" not in content:
            continue
        blocks = re.findall(r"<think>(.*?)</think>", content, flags=re.DOTALL)
        if len(blocks) != 1:
            return None
        section = "\n".join(["<think>", blocks[0].strip(), "</think>"])
        content = re.sub(r"<think>.*?</think>", lambda _: section, content, flags=re.DOTALL)
        if message["role"] == "assistant":
            match = re.match(r"^(<think>.*?</think>)?(.*?)(<tool_call>.*?</tool_call>)$", content.strip(), re.DOTALL)
            if match is None:
                return None
            think, commentary, calls = match.groups()
            inner = re.findall(r"<think>(.*?)</think>", think or "", flags=re.DOTALL)
            if think is None or inner[0].strip() == "":
                think = "\n".join(["<think>", commentary.strip(), "</think>"])
            content = "\n\n".join([think, calls])
        message["content"] = content
    return out


def expected_rows():
    rows = []
    for line in (DATA / "rows.jsonl").read_text().splitlines():
        row = json.loads(line)
        rows.append({"instance_id": row["instance_id"], "messages": to_hermes(json.loads(row["messages"]))})
    return rows


if __name__ == "__main__":
    with open(DATA / "expected-hermes.jsonl", "w") as f:
        for row in expected_rows():
            f.write(json.dumps(row) + "\n")
    sys.exit(0)
