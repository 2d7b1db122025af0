"""Writes the inputs of the SERA conformance corpus: SWE-agent trajectories in the `.traj` form
SERA's post-processing reads, and pairs of patches for SERA's line recall.

Every case is written here by hand (or combined from hand-written parts); nothing comes from
SERA. `generate.py` then runs SERA's own code on these inputs and records what it produces.

    python3 tests/data/sera-conformance/make_inputs.py

Writes inputs/trajectories.jsonl (one `{"instance_id", "about", "traj"}` object per line; the
generator lays each out as SERA's `<traj_dir>/<id>/<id>.traj`) and inputs/recall-pairs.jsonl
(`{"id", "about", "target", "candidate"}`). Deterministic: rerunning gives the same bytes.
"""

import itertools
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------
# Trajectories

ISSUE = (
    "<uploaded_files>\n/testbed\n</uploaded_files>\nI've uploaded a python code repository in the "
    "directory /testbed. Consider the following PR description:\n\n<pr_description>\n"
    "`clamp()` returns the upper bound for values equal to the lower bound\n</pr_description>\n\n"
    "Can you help me implement the necessary changes to the repository?"
)
PATCH = (
    "diff --git a/calc/ops.py b/calc/ops.py\n--- a/calc/ops.py\n+++ b/calc/ops.py\n"
    "@@ -1,3 +1,3 @@\n def clamp(value, low, high):\n-    if value <= low:\n-        return high\n"
    "+    if value < low:\n+        return low\n"
)


class Builder:
    """A SWE-agent history under construction, in the shape SWE-agent 1.x writes `.traj` files."""

    def __init__(self, system=True, issue=ISSUE, issue_as_list=True):
        self.history = []
        self.calls = 0
        if system:
            self.history.append({"role": "system", "content": "SWE-agent's own system prompt.",
                                 "agent": "main", "message_type": "system_prompt"})
        content = [{"type": "text", "text": issue}] if issue_as_list else issue
        self.history.append({"role": "user", "content": content, "agent": "main",
                             "message_type": "observation"})

    def say(self, content, *calls, tool_calls="list"):
        """An assistant turn; `calls` are (name, arguments) pairs, arguments a dict or a raw
        JSON string. `tool_calls` is "list", "null" (the key holds None) or "missing"."""
        message = {"role": "assistant", "content": content, "thought": content, "agent": "main",
                   "message_type": "action"}
        ids = []
        if tool_calls == "list":
            rendered = []
            for name, arguments in calls:
                self.calls += 1
                ids.append(f"call_{self.calls:02d}")
                text = arguments if isinstance(arguments, str) else json.dumps(arguments)
                rendered.append({"id": ids[-1], "type": "function",
                                 "function": {"name": name, "arguments": text}})
            message["tool_calls"] = rendered
        elif tool_calls == "null":
            message["tool_calls"] = None
        self.history.append(message)
        return ids

    def tool(self, text, ids=None, as_list=True):
        content = [{"type": "text", "text": text}] if as_list else text
        self.history.append({"role": "tool", "content": content, "agent": "main",
                             "message_type": "observation", "tool_call_ids": ids or []})

    def user(self, text):
        self.history.append({"role": "user", "content": text, "agent": "main",
                             "message_type": "observation"})

    def traj(self, exit_status="submitted", submission=PATCH):
        return {"history": self.history,
                "info": {"exit_status": exit_status, "submission": submission,
                         "model_stats": {"api_calls": sum(m["role"] == "assistant" for m in self.history)}}}


def standard(first, second="Now fix the comparison.", final_tool=True, exit_status="submitted",
             tool_text="1 def clamp(value, low, high):\n2     if value <= low:\n3         return high",
             submit_text="Everything is fixed, submitting.", **builder):
    """Look, edit, submit: the usual three-action SWE-agent trajectory."""
    b = Builder(**builder)
    ids = b.say(first, ("str_replace_editor", {"command": "view", "path": "/testbed/calc/ops.py"}))
    b.tool(tool_text, ids)
    ids = b.say(second, ("str_replace_editor", {
        "command": "str_replace", "path": "/testbed/calc/ops.py",
        "old_str": "    if value <= low:\n        return high",
        "new_str": "    if value < low:\n        return low"}))
    b.tool("The file /testbed/calc/ops.py has been edited.", ids)
    ids = b.say(submit_text, ("submit", {}))
    if final_tool:
        b.tool(PATCH, ids)
    return b.traj(exit_status)


CASES = []


def case(instance_id, about, traj):
    CASES.append({"instance_id": instance_id, "about": about, "traj": traj})


def trajectories():
    case("plain__submit-1", "look, edit, submit; the submit's tool response ends the history",
         standard("Let me look at the file."))
    case("plain__no-final-tool-1", "the history ends with the submit turn itself",
         standard("Let me look at the file.", final_tool=False))
    case("plain__string-contents-1", "user and tool contents as plain strings, not part lists",
         standard("Let me look.", issue_as_list=False))
    case("plain__no-system-1", "no system message at all",
         standard("Let me look.", system=False))
    case("plain__empty-content-1", "an assistant turn whose text is empty",
         standard("", second=""))

    # Think tags in assistant turns.
    think_texts = {
        "think-then-text": "<think>I should read the file first.</think>\n\nLet me look at the file.",
        "think-only": "<think>\nI should read the file first.\n</think>",
        "think-padded": "  \n<think>  spaces around  </think>   visible after  \n",
        "empty-think": "<think></think>Visible text stands in for the empty think.",
        "blank-think": "<think>\n\n   \n</think>\nOnly the visible text is real.",
        "unclosed-think": "<think>I never close this block. Let me look.",
        "two-thinks": "<think>one</think> middle <think>two</think> end",
        "close-only": "Some text</think> with a stray closing tag.",
        "think-mid-text": "Visible first <think>hidden middle</think> visible last.",
        "think-nested": "<think>outer <think>inner</think> rest</think> after",
        "think-multiline": "<think>\nline one\nline two\n\nline four\n</think>\nDoing it.",
        "think-unicode-space": "\u3000<think>\u2028wide\u00a0spaces\u1680</think>\u2029text\x1c",
        "think-x1f": "<think>\x1fseparators\x1e\x1d</think>\x1fshown\x1f",
        "tool-call-text": "I will emit <tool_call> in prose before the real call.",
        "think-with-tool-call-text": "<think>maybe <tool_call>{}</tool_call> here</think>calling now",
        "angle-brackets": "Comparing a < b and b > c; no tags here.",
    }
    for name, text in think_texts.items():
        case(f"think__{name}-1", f"assistant text {text!r} on the first turn",
             standard(text))
    case("think__every-turn-1", "think blocks with visible text on every assistant turn",
         standard("<think>look first</think>Looking.", second="<think>edit now</think>Editing.",
                  submit_text="<think>done</think>Submitting."))
    case("think__unclosed-last-1", "an unclosed think only in the last assistant turn",
         standard("Looking.", submit_text="<think>submit without closing"))

    # Think tags outside assistant turns.
    case("tool-think__closed-1", "a tool response holding one closed think block",
         standard("Looking.", tool_text="print('<think>  in a file  </think>')"))
    case("tool-think__unclosed-1", "a tool response holding an unclosed <think>",
         standard("Looking.", tool_text="grep output: <think> appears in a log line"))
    case("tool-think__two-1", "a tool response holding two think blocks",
         standard("Looking.", tool_text="<think>a</think> and <think>b</think>"))
    case("tool-think__close-only-1", "a tool response holding only a closing tag",
         standard("Looking.", tool_text="trailing </think> only"))
    case("user-think__issue-1", "the issue text holds a closed think block",
         standard("Looking.", issue=ISSUE + "\n<think>issue author thinking</think>"))
    case("user-think__unclosed-1", "the issue text holds an unclosed think tag",
         standard("Looking.", issue=ISSUE + "\nWhy does <think> appear in the docs?"))
    case("final-tool-think__unclosed-1", "the final tool response after the last assistant turn holds <think>",
         standard("Looking.", final_tool=False))
    CASES[-1]["traj"]["history"].append({"role": "tool", "content": "diff with <think> inside",
                                         "agent": "main", "message_type": "observation",
                                         "tool_call_ids": ["call_03"]})

    # Cost limits and exit statuses.
    for status in ["submitted", "Submitted", "SUBMITTED", "submitted (exit_cost)", "exit_cost",
                   "exit_context", "exit_format", "early_exit", "", " submitted",
                   "submitted\n", "SUBM\u0130TTED", "subMitted"]:
        slug = "".join(ch if ch.isalnum() else "-" for ch in status.encode("ascii", "replace").decode()) or "empty"
        case(f"status__{slug}-1", f"exit status {status!r}", standard("Looking.", exit_status=status))
    for variant, content, tool_calls in [
        ("null-calls", "Exit due to cost limit", "null"),
        ("missing-calls", "Exit due to cost limit", "missing"),
        ("empty-calls", "Exit due to cost limit", "list"),
        ("trailing-space", "Exit due to cost limit ", "null"),
        ("lowercase", "exit due to cost limit", "null"),
    ]:
        for status in ["exit_cost", "submitted (exit_cost)", "submitted"]:
            b = Builder()
            ids = b.say("Looking.", ("bash", {"command": "cat calc/ops.py"}))
            b.tool("def clamp(value, low, high): ...", ids)
            b.say(content, tool_calls=tool_calls)
            slug = status.replace(" ", "-").replace("(", "").replace(")", "")
            case(f"cost__{variant}__{slug}-1",
                 f"last assistant turn {content!r} (tool_calls {tool_calls}), exit status {status!r}",
                 b.traj(status))
    b = Builder()
    ids = b.say("<think>budget</think>Looking.", ("bash", {"command": "ls"}))
    b.tool("calc", ids)
    b.say("Exit due to cost limit", tool_calls="null")
    b.tool("Exited (autosubmitted)", [])
    case("cost__think-then-tool-after-1", "think before a cost-limit exit, then a tool message after it",
         b.traj("submitted"))

    # Assistant turns without tool calls.
    for tool_calls in ["null", "missing", "list"]:
        b = Builder()
        ids = b.say("Looking.", ("bash", {"command": "ls"}))
        b.tool("calc", ids)
        b.say("I am thinking aloud without acting.", tool_calls=tool_calls)
        b.user("Your last output did not use any tool calls! Please make sure it includes one.")
        ids = b.say("Submitting.", ("submit", {}))
        b.tool(PATCH, ids)
        case(f"no-call__{tool_calls}-1", f"an assistant turn without a tool call (tool_calls {tool_calls})",
             b.traj())

    # Tool calls and their arguments.
    b = Builder()
    ids = b.say("Two calls at once.", ("bash", {"command": "ls"}), ("bash", {"command": "pwd"}))
    b.tool("calc", ids[:1])
    b.tool("/testbed", ids[1:])
    ids = b.say("Submitting.", ("submit", {}))
    b.tool(PATCH, ids)
    case("calls__two-in-one-turn-1", "one assistant turn with two tool calls", b.traj())
    arguments = {
        "unicode": {"command": "echo caf\u00e9 \U0001f600 \u2028 \u00a0"},
        "quotes": {"command": "grep -n \"a\\\\b\" 'x' | head\ttab"},
        "newlines": {"command": "printf 'a\\nb'\nsecond line\r\nthird\rfourth"},
        "types": {"command": "view", "path": "/testbed/a.py", "view_range": [1, -1]},
        "bool-null": {"command": "create", "path": "/testbed/b.py", "file_text": "x = 1\n",
                      "flag": True, "other": False, "none": None},
        "int": {"command": "insert", "path": "/testbed/a.py", "insert_line": 7, "new_str": "y = 2"},
        "float": {"command": "view", "path": "/p", "scale": 1.5, "tiny": 0.25, "big": 1.2345678901234568e+20,
                  "small": 1e-07, "e16": 1e16, "third": 1 / 3},
        "string-list": {"command": "view", "path": "/p", "names": ["a", "it's", "say \"hi\"", "back\\slash"]},
        "nested": {"command": "x", "options": {"depth": 2, "names": ["a"]}},
        "empty-strings": {"command": "str_replace", "path": "/p", "old_str": "", "new_str": ""},
        "block-params": {"command": "str_replace", "path": "/p", "old_str": "a\n  b\n",
                         "new_str": "\ta\n\tb", "file_text": "<think>not a think</think>"},
        "key-order": {"path": "/p", "command": "view"},
        "control-chars": {"command": "echo \x01\x1b[0m\x7f"},
    }
    for name, args in arguments.items():
        b = Builder()
        tool = "bash" if set(args) == {"command"} else "str_replace_editor"
        ids = b.say(f"Calling with {name} arguments.", (tool, args))
        b.tool("done", ids)
        ids = b.say("Submitting.", ("submit", {}))
        b.tool(PATCH, ids)
        case(f"args__{name}-1", f"tool call arguments {args!r}", b.traj())
    b = Builder()
    ids = b.say("Raw argument text.", ("bash", '{"command":  "ls",\n "extra":1}'))
    b.tool("calc", ids)
    ids = b.say("Submitting.", ("submit", '{}'))
    b.tool(PATCH, ids)
    case("args__unusual-json-spacing-1", "arguments JSON not written by json.dumps", b.traj())

    # Observations and text with line separators.
    for name, text in {
        "crlf": "line one\r\nline two\r\n",
        "lone-cr": "progress 10%\rprogress 100%",
        "separators": "a\u2028b\u2029c\x0bd\x0ce\x1cf\x1dg\x1eh\x85i",
        "empty": "",
        "trailing-newlines": "output\n\n\n",
        "html-like": "<tool_response>nested</tool_response> and </tool_call>",
    }.items():
        case(f"obs__{name}-1", f"tool output {text!r}", standard("Looking.", tool_text=text))
    b = Builder()
    ids = b.say("Looking.", ("bash", {"command": "ls"}))
    b.tool("calc", ids, as_list=False)
    ids = b.say("Submitting.", ("submit", {}))
    b.tool(PATCH, ids, as_list=False)
    case("obs__string-tool-content-1", "tool contents as plain strings", b.traj())

    # Commentary around the calls.
    for name, text in {
        "leading-whitespace": "\n\n   Looking with padding.   \n\n",
        "unicode-padding": "\u00a0\u2003Looking\u3000",
        "x1c-padding": "\x1c\x1dLooking\x1e\x1f",
        "only-whitespace": " \t\n ",
        "only-x1f": "\x1f",
        "tabs": "\tindented\tthought\t",
    }.items():
        case(f"text__{name}-1", f"assistant text {text!r}", standard(text))
    b = Builder()
    ids = b.say("Looking.", ("bash", {"command": "ls"}))
    b.tool("calc", ids)
    b.user("A user follow-up in the middle.")
    ids = b.say("<think>after the follow-up</think>Submitting.", ("submit", {}))
    b.tool(PATCH, ids)
    case("flow__user-follow-up-1", "a user message between tool turns", b.traj())
    b = Builder()
    ids = b.say("Looking.", ("bash", {"command": "ls"}))
    b.tool("calc", ids)
    b.tool("a second tool message for the same call", ids)
    ids = b.say("Submitting.", ("submit", {}))
    case("flow__two-tool-messages-1", "two tool messages in a row, no final tool response", b.traj())
    return CASES


# ---------------------------------------------------------------------------------------------
# Recall pairs

SEPARATORS = {
    "lf": "\n", "crlf": "\r\n", "cr": "\r", "vt": "\x0b", "ff": "\x0c", "fs": "\x1c", "gs": "\x1d",
    "rs": "\x1e", "nel": "\x85", "ls": "\u2028", "ps": "\u2029", "us": "\x1f",
}
# ---------------------------------------------------------------------------------------------
# mini-swe-agent trajectories (2.x, tool calling), read by SERA with agent_harness="mini-swe-agent"

MINI_TASK = ("Please solve this issue: `clamp()` returns the upper bound for values equal to the "
             "lower bound\n\nYou can execute bash commands and edit files to implement the necessary changes.")
MINI_SYSTEM = "You are a helpful assistant that can interact with a computer."


class MiniBuilder:
    """A mini-swe-agent 2.x `messages` list under construction (tool-calling models)."""

    def __init__(self, system=True):
        self.messages = []
        self.calls = 0
        if system:
            self.messages.append({"role": "system", "content": MINI_SYSTEM})
        self.messages.append({"role": "user", "content": MINI_TASK})

    def say(self, content, *commands, tool_calls="list", **extra):
        """An assistant turn calling `bash` once per command; `content` may be None.
        `tool_calls` is "list" or "null" (a turn without calls, as the model returned it)."""
        message = {"role": "assistant", "content": content, **extra}
        ids = []
        if tool_calls == "list":
            message["tool_calls"] = []
            for command in commands:
                self.calls += 1
                ids.append(f"call_{self.calls:02d}")
                message["tool_calls"].append({"id": ids[-1], "type": "function", "function": {
                    "name": "bash", "arguments": json.dumps({"command": command})}})
        elif tool_calls == "null":
            message["tool_calls"] = None
        self.messages.append(message)
        return ids

    def tool(self, output, call_id, returncode=0):
        self.messages.append({"role": "tool", "tool_call_id": call_id,
                              "content": f"<returncode>{returncode}</returncode>\n<output>\n{output}</output>"})

    def user(self, text):
        self.messages.append({"role": "user", "content": text})

    def traj(self, exit_status="Submitted", submission=PATCH, exit_message=True):
        if exit_message:
            self.messages.append({"role": "exit", "content": submission,
                                  "extra": {"exit_status": exit_status, "submission": submission}})
        return {"info": {"exit_status": exit_status, "submission": submission,
                         "model_stats": {"instance_cost": 0.0, "api_calls": self.calls},
                         "mini_version": "2.0.0"},
                "messages": self.messages, "trajectory_format": "mini-swe-agent-1.1"}


def mini_standard(first="Let me look at the file.", second="Now fix the comparison.",
                  submit="Done; submitting.", exit_status="Submitted", system=True, **exit_args):
    b = MiniBuilder(system=system)
    (i,) = b.say(first, "cat -n calc/ops.py")
    b.tool("     1\tdef clamp(value, low, high):\n     2\t    if value <= low:\n     3\t        return high\n", i)
    (i,) = b.say(second, "sed -i 's/value <= low/value < low/; s/return high$/return low/' calc/ops.py")
    b.tool("", i)
    (i,) = b.say(submit, "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff")
    b.tool("COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n" + PATCH, i)
    return b.traj(exit_status, **exit_args)


MINI_CASES = []


def mini_case(instance_id, about, traj):
    MINI_CASES.append({"instance_id": instance_id, "about": about, "traj": traj})


def mini_trajectories():
    MINI_CASES.clear()
    mini_case("mini__submit-1", "look, edit, submit; an exit message ends the messages", mini_standard())
    mini_case("mini__no-exit-message-1", "no exit message at the end",
              mini_standard(exit_message=False))
    mini_case("mini__no-system-1", "no system message", mini_standard(system=False))
    mini_case("mini__lowercase-submitted-1", "exit status `submitted` in lower case",
              mini_standard(exit_status="submitted"))
    mini_case("mini__limits-exceeded-1", "stopped by a limit: LimitsExceeded",
              mini_standard(exit_status="LimitsExceeded", submission=""))
    mini_case("mini__format-error-1", "ended by format errors", mini_standard(exit_status="FormatError"))
    mini_case("mini__think-1", "each turn opens with a think block",
              mini_standard("<think>\nThe bug is in clamp.\n</think>\n\nLet me look.",
                            "<think>\nSwap the comparison.\n</think>\n\nFixing it.",
                            "<think>\nAll good.\n</think>\n\nSubmitting."))
    mini_case("mini__think-only-1", "think blocks and no visible text",
              mini_standard("<think>\nlook first\n</think>", "<think>\nedit\n</think>",
                            "<think>\nsubmit\n</think>"))
    mini_case("mini__empty-think-1", "an empty think block next to visible text",
              mini_standard("<think>\n\n</think>\n\nLet me look."))
    mini_case("mini__unclosed-think-1", "an unclosed think block",
              mini_standard("<think>\nI will look at the file"))
    mini_case("mini__two-thinks-1", "two think blocks in one turn",
              mini_standard("<think>a</think> and <think>b</think> look"))
    mini_case("mini__think-in-tool-1", "a tool output that contains a think tag",
              (lambda b: (b.tool("<think>not mine</think>\n", b.say("Look.", "cat notes.txt")[0]),
                          b.tool("", b.say("Submit.", "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")[0]),
                          b.traj())[-1])(MiniBuilder()))
    mini_case("mini__none-content-1", "assistant turns whose content is None (tool calls only)",
              mini_standard(None, None, None))
    mini_case("mini__empty-content-1", "assistant turns whose content is empty", mini_standard("", "", ""))

    def two_calls(b):
        i, j = b.say("Look at both files.", "cat -n calc/ops.py", "ls calc")
        b.tool("     1\tdef clamp(value, low, high):\n", i)
        b.tool("__init__.py\nops.py\n", j)
        (k,) = b.say("Submit.", "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff")
        b.tool("COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n" + PATCH, k)
        return b.traj()

    mini_case("mini__two-calls-1", "one turn with two bash calls, two tool messages", two_calls(MiniBuilder()))

    def format_error(b):
        (i,) = b.say("Look.", "cat -n calc/ops.py")
        b.tool("     1\tdef clamp(value, low, high):\n", i)
        b.say("I think the fix is clear.", tool_calls="null")
        b.user("Please always provide EXACTLY ONE action in triple backticks, found 0 actions.")
        (j,) = b.say("Submitting now.", "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff")
        b.tool("COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n" + PATCH, j)
        return b.traj()

    mini_case("mini__empty-tool-calls-1", "a turn without tool calls (null), then mini's format-error message",
              format_error(MiniBuilder()))

    def cost_limit(b):
        (i,) = b.say("Look.", "cat -n calc/ops.py")
        b.tool("     1\tdef clamp(value, low, high):\n", i)
        b.say("Exit due to cost limit", tool_calls="null")
        return b.traj()

    mini_case("mini__cost-limit-1", "the `Exit due to cost limit` turn", cost_limit(MiniBuilder()))
    mini_case("mini__reasoning-content-1", "reasoning in `reasoning_content` beside the text",
              (lambda b: (b.tool("ok\n", b.say("Look.", "cat calc/ops.py", reasoning_content="Check clamp first.")[0]),
                          b.tool("", b.say("Submit.", "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")[0]),
                          b.traj())[-1])(MiniBuilder()))
    mini_case("mini__unicode-1", "non-ASCII text in thoughts, commands and output",
              mini_standard("Regardons le fichier \u2014 caf\u00e9 \u2603.", "Corrig\u00e9 \U0001F600",
                            "Termin\u00e9."))
    mini_case("mini__failing-command-1", "a command that fails with returncode 1",
              (lambda b: (b.tool("grep: nothing\n", b.say("Search.", "grep -rn missing .")[0], returncode=1),
                          b.tool("", b.say("Submit.", "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")[0]),
                          b.traj())[-1])(MiniBuilder()))
    mini_case("mini__multiline-command-1", "a heredoc command over several lines",
              (lambda b: (b.tool("", b.say("Write a test script.", "cat <<'EOF' > /tmp/t.py\nfrom calc.ops import clamp\nprint(clamp(1, 1, 5))\nEOF\npython /tmp/t.py")[0]),
                          b.tool("", b.say("Submit.", "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")[0]),
                          b.traj())[-1])(MiniBuilder()))
    return MINI_CASES


# Characters Python's str.strip() removes (every str.isspace() character) and some it keeps.
SPACES = {
    "space": " ", "tab": "\t", "vt": "\x0b", "ff": "\x0c", "cr": "\r", "fs": "\x1c", "gs": "\x1d",
    "rs": "\x1e", "us": "\x1f", "nel": "\x85", "nbsp": "\xa0", "ogham": "\u1680", "en-quad": "\u2000",
    "hair": "\u200a", "ls": "\u2028", "ps": "\u2029", "nnbsp": "\u202f", "mmsp": "\u205f",
    "ideographic": "\u3000", "zwsp": "\u200b", "mvs": "\u180e", "bom": "\ufeff", "nul": "\x00",
    "word-joiner": "\u2060",
}


def pairs():
    out = []

    def pair(pid, about, target, candidate):
        out.append({"id": pid, "about": about, "target": target, "candidate": candidate})

    base = "diff --git a/f.py b/f.py\n--- a/f.py\n+++ b/f.py\n@@ -1,3 +1,3 @@\n"
    body = ["-old = 1", "+new = 2", " context", "-x", "+y"]

    # Every separator as the line break of the target, the candidate, or both.
    for (tname, tsep), (cname, csep) in itertools.product(SEPARATORS.items(), repeat=2):
        if tname not in ("lf", "crlf", "cr", "ls", "nel", "us") and cname != "lf":
            continue
        pair(f"sep-{tname}-vs-{cname}", f"lines broken by {tname} against {cname}",
             (base + "\n".join(body) + "\n").replace("\n", tsep),
             (base + "\n".join(body) + "\n").replace("\n", csep))
    for name, sep in SEPARATORS.items():
        pair(f"sep-{name}-inside-line", f"{name} inside an added line",
             base + f"+a{sep}b\n-c\n", base + "+a\n+b\n-c\n")
        pair(f"sep-{name}-after-sign", f"{name} right after the sign (a blank line, or not)",
             base + f"+{sep}\n-c\n", base + "-c\n")
        pair(f"sep-{name}-splits-header", f"{name} splitting a header from a changed line",
             f"@@ -1 +1 @@{sep}-removed\n+added\n", "-removed\n+added\n")
        pair(f"sep-{name}-trailing", f"the diff ends in {name}", f"-a\n+b{sep}", "-a\n+b\n")

    # Blank changed lines: the text after the sign is empty or only whitespace.
    for name, space in SPACES.items():
        pair(f"blank-{name}-only", f"an added line holding only {name}",
             f"+{space}\n-real\n", "-real\n")
        pair(f"blank-{name}-twice", f"a removed line holding {name} twice",
             f"-{space}{space}\n+real\n", "+real\n")
        pair(f"blank-{name}-around-text", f"{name} around text is part of the line",
             f"+{space}text{space}\n", "+text\n")
        pair(f"blank-{name}-matches-itself", f"a line ending in {name} matches only itself",
             f"+code{space}\n-gone\n", f"+code{space}\n-gone\n")
        pair(f"blank-{name}-with-space", f"an added line of {name} and a space",
             f"+ {space} \n+kept\n", "+kept\n")

    # Headers, signs and multisets.
    pair("header-double-dash", "a removed `-- comment` renders as `--- comment`: dropped like a header",
         "@@ -1,2 +1,2 @@\n--- comment\n+++i;\n-x\n+y\n", "-x\n+y\n")
    pair("header-diff-prefix", "a line starting with `diff` is a header", "+diffuse\n-diffs\n+kept\n", "+kept\n")
    pair("header-at-at", "a changed line starting with `@@` cannot exist; `@@` lines are headers",
         "@@ -1 +1 @@ fn\n-a\n+b\n", "-a\n+b\n")
    pair("dup-target", "two copies in the target need two in the candidate", "+}\n+}\n+}\n-x\n", "+}\n-x\n")
    pair("dup-candidate", "extra copies in the candidate do not help", "+}\n", "+}\n+}\n")
    pair("sign-matters", "the sign is part of the line", "+return x\n", "-return x\n")
    pair("indent-matters", "indentation is part of the line", "+    return x\n", "+  return x\n")
    pair("trailing-space-matters", "trailing spaces are part of the line", "+return x\n", "+return x \n")
    pair("no-newline-marker", "the `\\ No newline` marker is not a changed line",
         "-old\n\\ No newline at end of file\n+new\n\\ No newline at end of file", "-old\n+new\n")
    pair("multi-file", "lines pool across files",
         "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\ndiff --git a/y b/y\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-c\n+d\n",
         "diff --git a/z b/z\n--- a/z\n+++ b/z\n@@ -1,2 +1,2 @@\n-c\n-a\n+d\n+b\n")
    pair("unicode-text", "non-ASCII text compares exactly", "+caf\u00e9 = '\U0001f600'\n-na\u00efve\n",
         "+cafe\u0301 = '\U0001f600'\n-na\u00efve\n")
    pair("empty-both", "both patches empty", "", "")
    pair("empty-target", "an empty target: undefined", "", "+a\n")
    pair("empty-candidate", "an empty candidate", "-a\n+b\n", "")
    pair("only-headers", "a target of headers only: undefined", base, base + "+a\n")
    pair("only-blank-changes", "a target whose changes are all blank: undefined", "+\n-  \n+\t\n", "+a\n")
    pair("only-context", "context lines only", " a\n b\n", " a\n")
    pair("newline-only", "a patch of newlines", "\n\n\n", "\n")
    pair("lone-sign", "a lone `+` and a lone `-`", "+\n-\n+a\n", "+a\n")

    # Recall fractions, so the exact value of m/n is pinned for many m and n.
    for n in range(1, 13):
        for m in range(0, n + 1, max(1, n // 4)):
            target = "".join(f"+line {i}\n" for i in range(n))
            candidate = "".join(f"+line {i}\n" for i in range(m)) + "+unrelated\n"
            pair(f"fraction-{m}-of-{n}", f"{m} of {n} target lines present", target, candidate)
    return out


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    trajs = trajectories()
    ids = [c["instance_id"] for c in trajs]
    assert len(ids) == len(set(ids)), "instance ids must be unique"
    recall_pairs = pairs()
    assert len({p["id"] for p in recall_pairs}) == len(recall_pairs), "pair ids must be unique"
    write_jsonl(HERE / "inputs" / "trajectories.jsonl", trajs)
    write_jsonl(HERE / "inputs" / "recall-pairs.jsonl", recall_pairs)
    minis = mini_trajectories()
    assert len({c["instance_id"] for c in minis}) == len(minis), "instance ids must be unique"
    write_jsonl(HERE / "inputs" / "mini-trajectories.jsonl", minis)
    print(f"{len(trajs)} SWE-agent and {len(minis)} mini-swe-agent trajectories, {len(recall_pairs)} recall pairs")
