#!/usr/bin/env python3
"""Regenerates editor.json: what SWE-agent's `str_replace_editor` prints for each case below.

Usage (the reference is SERA's SWE-agent fork, read from its git history, never copied here):

    python3 -m venv /tmp/sweref && /tmp/sweref/bin/pip install 'tree-sitter==0.21.3' tree-sitter-languages
    /tmp/sweref/bin/python generate.py /path/to/SERA-SWE-agent.git [COMMIT]

The tool is extracted to a temporary folder and run as SWE-agent runs it: one process per call,
arguments on the command line, with the registry variables of SERA's e2e.yaml
(USE_FILEMAP=true). Each case starts from fresh files in a temporary folder that stands for
/testbed; the folder's real path is replaced by /testbed in what is recorded. An observation is
the tool's standard output (then standard error) without the final newline of its last print.
"""

import json
import os
import subprocess
import sys
import tempfile

REPO = sys.argv[1]
COMMIT = sys.argv[2] if len(sys.argv) > 2 else "HEAD"
HERE = os.path.dirname(os.path.abspath(__file__))


def git(*args):
    return subprocess.run(["git", "-C", REPO, *args], check=True, stdout=subprocess.PIPE).stdout


def long_python():
    """A Python file over 16000 characters: long and short functions, methods, nesting,
    decorators, async, a class body, a module-level statement between functions."""
    parts = ['"""A module long enough for the filemap."""', "import os", ""]
    for i in range(40):
        parts.append(f"def function_{i}(a, b):")
        parts.append(f'    """Docstring of function {i}."""')
        for j in range(6):
            parts.append(f"    value_{j} = a * {j} + b  # step {j} of function {i} with some padding text")
        parts.append("    return value_0")
        parts.append("")
    parts += [
        "def short(x):",
        "    return x + 1",
        "",
        "class Account:",
        '    """A class whose methods are elided."""',
        "",
        "    rate = 3",
        "",
        "    @property",
        "    def balance(self):",
        "        total = 0",
        "        for entry in self.entries:",
        "            total += entry",
        "            total -= 1",
        "            total += 1",
        "        return total",
        "",
        "    async def fetch(self, client):",
        "        def inner(v):",
        "            w = v + 1",
        "            w = w + 2",
        "            w = w + 3",
        "            w = w + 4",
        "            w = w + 5",
        "            return w",
        "        result = await client.get()",
        "        return inner(result)",
        "",
        "    def tiny(self):",
        "        pass",
        "",
        "CONSTANT = function_1(2, 3)",
        "",
        "def one_liner(): return [",
        "    1,",
        "    2,",
        "    3,",
        "    4,",
        "    5,",
        "]",
        "",
    ]
    return "\n".join(parts)


NUMBERED = "".join(f"line {i}\n" for i in range(1, 21))
SMALL_PY = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
T = "/testbed"

# Each case: name, files (path under /testbed -> text), calls (argument objects), and for the
# deliberate differences of sera-rs (see the module doc of crates/sera-rollout/src/editor.rs)
# what differs ("observations", "final_files") and why; the test checks that exactly those
# still differ, so the doc stays true.
CASES = [
    ("view_whole_small_file", {"a.py": SMALL_PY}, [{"command": "view", "path": f"{T}/a.py"}]),
    ("view_no_trailing_newline", {"a.txt": "one\ntwo"}, [{"command": "view", "path": f"{T}/a.txt"}]),
    ("view_ranges", {"n.txt": NUMBERED}, [
        {"command": "view", "path": f"{T}/n.txt", "view_range": [3, 5]},
        {"command": "view", "path": f"{T}/n.txt", "view_range": [18, -1]},
        {"command": "view", "path": f"{T}/n.txt", "view_range": [0, 3]},
        {"command": "view", "path": f"{T}/n.txt", "view_range": [2, 40]},
        {"command": "view", "path": f"{T}/n.txt", "view_range": [6, 4]},
    ]),
    ("view_long_python_file_shows_the_filemap", {"big.py": long_python()}, [
        {"command": "view", "path": f"{T}/big.py"},
        {"command": "view", "path": f"{T}/big.py", "view_range": [1, 6]},
    ]),
    ("view_long_text_file_is_clipped", {"big.txt": long_python()}, [
        {"command": "view", "path": f"{T}/big.txt"},
    ]),
    ("str_replace_windows", {"n.txt": NUMBERED}, [
        {"command": "str_replace", "path": f"{T}/n.txt", "old_str": "line 10\n", "new_str": "line ten\nline 10.5\n"},
        {"command": "str_replace", "path": f"{T}/n.txt", "old_str": "line 2\n", "new_str": "line two\n"},
        {"command": "str_replace", "path": f"{T}/n.txt", "old_str": "line 19\n"},
        {"command": "str_replace", "path": f"{T}/n.txt", "old_str": "line 20", "new_str": "line twenty"},
    ]),
    ("str_replace_refusals", {"a.py": SMALL_PY}, [
        {"command": "str_replace", "path": f"{T}/a.py", "old_str": "return a * b", "new_str": "x"},
        {"command": "str_replace", "path": f"{T}/a.py", "old_str": "(a, b)", "new_str": "(b, a)"},
        {"command": "str_replace", "path": f"{T}/a.py", "old_str": "a + b", "new_str": "a + b"},
        {"command": "str_replace", "path": f"{T}/a.py"},
    ]),
    ("insert_windows", {"n.txt": NUMBERED}, [
        {"command": "insert", "path": f"{T}/n.txt", "insert_line": 0, "new_str": "first"},
        {"command": "insert", "path": f"{T}/n.txt", "insert_line": 10, "new_str": "a\nb"},
        {"command": "insert", "path": f"{T}/n.txt", "insert_line": 23, "new_str": "last"},
        {"command": "insert", "path": f"{T}/n.txt", "insert_line": 30, "new_str": "x"},
        {"command": "insert", "path": f"{T}/n.txt", "new_str": "x"},
        {"command": "insert", "path": f"{T}/n.txt", "insert_line": 1},
    ]),
    ("create", {"a.py": SMALL_PY}, [
        {"command": "create", "path": f"{T}/b.py", "file_text": "print('hi')\n"},
        {"command": "create", "path": f"{T}/a.py", "file_text": "x"},
        {"command": "create", "path": f"{T}/missing/dir/c.py", "file_text": "x"},
        {"command": "create", "path": f"{T}/d.py"},
    ]),
    ("paths", {"pkg/a.py": SMALL_PY}, [
        {"command": "view", "path": "pkg/a.py"},
        {"command": "view", "path": f"{T}/nope.py"},
        {"command": "str_replace", "path": f"{T}/pkg", "old_str": "a", "new_str": "b"},
        {"command": "view", "path": f"{T}/pkg", "view_range": [1, 2]},
        {"command": "undo_edit", "path": f"{T}/pkg/a.py"},
        {"command": "delete", "path": f"{T}/pkg/a.py"},
    ]),
    ("crlf_and_form_feed", {"w.py": "a = 1\r\nb = 2\r\n\x0cc = 3\r\n"}, [
        {"command": "str_replace", "path": f"{T}/w.py", "old_str": "b = 2", "new_str": "b = 20"},
        {"command": "insert", "path": f"{T}/w.py", "insert_line": 1, "new_str": "z = 0"},
        {"command": "view", "path": f"{T}/w.py"},
        {"command": "view", "path": f"{T}/w.py", "view_range": [2, 3]},
    ], ["final_files"], "SWE-agent reads with universal newlines and writes `\\n`, so an edit turns "
       "every `\\r\\n` of the file into `\\n`; sera-rs shows and edits the same text but writes "
       "`\\r\\n` back into a file whose line breaks were all `\\r\\n`"),
    ("undo_after_edit", {"a.py": SMALL_PY}, [
        {"command": "str_replace", "path": f"{T}/a.py", "old_str": "a - b", "new_str": "b - a"},
        {"command": "undo_edit", "path": f"{T}/a.py"},
    ], ["observations", "final_files"], "SWE-agent's editor never saves its edit history (its `_file_history` property returns a "
       "fresh copy that each edit appends to), so `undo_edit` always answers that there is none; "
       "sera-rs keeps the history and undoes the edit"),
    ("tabs_are_kept", {"Makefile": "all:\n\techo hi\n"}, [
        {"command": "str_replace", "path": f"{T}/Makefile", "old_str": "hi", "new_str": "ho"},
    ], ["final_files"], "SWE-agent rewrites every tab of an edited file as spaces; sera-rs keeps the file's tabs "
       "and expands them only in what it shows"),
]


def to_argv(call):
    argv = [call["command"], call["path"]]
    for name in ["file_text", "view_range", "old_str", "new_str", "insert_line"]:
        if name in call:
            value = call[name]
            argv.append(f"--{name}")
            argv += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return argv


def main():
    commit = git("rev-parse", COMMIT).decode().strip()
    tool = git("show", f"{commit}:tools/edit_anthropic/bin/str_replace_editor")
    registry = git("show", f"{commit}:tools/registry/lib/registry.py")
    out = {"upstream": "ethanlshen/SERA-SWE-agent", "commit": commit, "registry": {"USE_FILEMAP": "true"}, "cases": []}
    with tempfile.TemporaryDirectory() as bin_dir:
        with open(os.path.join(bin_dir, "str_replace_editor"), "wb") as f:
            f.write(tool)
        with open(os.path.join(bin_dir, "registry.py"), "wb") as f:
            f.write(registry)
        for name, files, calls, *differs in CASES:
            with tempfile.TemporaryDirectory() as root:
                root = os.path.realpath(root)
                for path, text in files.items():
                    os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
                    with open(os.path.join(root, path), "w", encoding="utf-8", newline="") as f:
                        f.write(text)
                env_file = os.path.join(bin_dir, f"env-{name}.json")
                with open(env_file, "w") as f:
                    json.dump(out["registry"], f)
                env = dict(os.environ, PYTHONPATH=bin_dir, SWE_AGENT_ENV_FILE=env_file)
                observations = []
                for call in calls:
                    argv = [a.replace(T, root) for a in to_argv(call)]
                    done = subprocess.run(
                        [sys.executable, os.path.join(bin_dir, "str_replace_editor"), *argv],
                        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    )
                    text = done.stdout.decode() + done.stderr.decode()
                    if text.endswith("\n"):
                        text = text[:-1]
                    observations.append(text.replace(root, T))
                final = {}
                for dirpath, _, names in os.walk(root):
                    for n in names:
                        full = os.path.join(dirpath, n)
                        with open(full, encoding="utf-8", newline="") as f:
                            final[os.path.relpath(full, root)] = f.read()
                case = {"name": name, "files": files, "calls": calls,
                        "observations": observations, "final_files": dict(sorted(final.items()))}
                if differs:
                    case["differs_in"], case["why"] = differs
                out["cases"].append(case)
    with open(os.path.join(HERE, "editor.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


main()
