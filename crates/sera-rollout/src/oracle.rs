//! The oracle teacher: for a procedural instance it knows the gold fix, and acts out a
//! developer's workflow for real in the environment (search, view, reproduce with the failing
//! tests, edit with `str_replace_editor`, rerun, submit twice), with seeded variation in what it
//! looks at and in what order. Every observation in its trajectories is real output, because
//! the step loop runs each of its tool calls like any other teacher's.
//!
//! The oracle is stateless: its plan is a pure function of the instance and the seed, and its
//! place in the plan is read off the conversation. The one thing it reacts to is an edit that
//! did not apply (an `old_str` that is not unique), which it retries with the hunk's full
//! context. It cannot do SVG rollout 1, where there is no gold fix to act out.

use sera_core::{
    FilePatch, Hunk, Instance, LineKind, Message, Role, RolloutKind, SplitMix64, ToolCall,
};
use serde_json::{Map, Value, json};

use crate::teacher::{Reply, Task, Teacher, TeacherError};

/// The reproduction script the oracle sometimes writes (and removes) for Python instances.
const REPRO_SCRIPT: &str = "reproduce_issue.py";

/// What the oracle says when asked for SVG rollout 1.
const SVG_REFUSAL: &str = "the oracle teacher cannot do SVG rollout 1: it acts out a known gold fix, and on the clean \
repository there is none; use a model teacher (--teacher openai) for SVG mode";

/// The embedded teacher for procedural instances.
#[derive(Debug, Clone, Default)]
pub struct Oracle;

impl Teacher for Oracle {
    fn name(&self) -> String {
        "oracle".to_string()
    }

    fn supports(&self, kind: RolloutKind) -> Result<(), String> {
        match kind {
            RolloutKind::SvgFirst => Err(SVG_REFUSAL.to_string()),
            _ => Ok(()),
        }
    }

    fn reply(&self, task: &Task<'_>, messages: &[Message]) -> Result<Reply, TeacherError> {
        self.supports(task.kind).map_err(TeacherError::Unsupported)?;
        let instance = task.instance.ok_or_else(|| {
            TeacherError::Unsupported(
                "the oracle teacher needs a procedural instance with a gold patch".into(),
            )
        })?;
        let mut plan = plan(instance, task.workdir, task.seed);
        plan.reverse(); // Popped from the end.
        // Replay the conversation: each assistant turn consumed one planned step.
        let mut turn = 0;
        let mut index = 0;
        while index < messages.len() {
            let message = &messages[index];
            index += 1;
            if message.role != Role::Assistant || message.tool_calls.is_empty() {
                continue;
            }
            turn += 1;
            let Some(step) = plan.pop() else { break };
            let observation = messages
                .get(index)
                .filter(|m| m.role == Role::Tool)
                .map_or("", |m| m.content.as_str());
            if let Some(fallback) = step.fallback {
                if observation.contains("No replacement was performed") {
                    plan.push(*fallback);
                }
            }
        }
        let step = plan
            .pop()
            .unwrap_or_else(|| submit_step("I have done what I can; submitting the change."));
        let call = ToolCall {
            id: format!("oracle_{turn}"),
            name: step.tool.to_string(),
            arguments: step.arguments,
        };
        Ok(Reply {
            content: String::new(),
            reasoning: Some(step.thought),
            tool_calls: vec![call],
            malformed: Vec::new(),
            usage: Default::default(),
        })
    }
}

/// One planned tool call with the thought that leads to it.
#[derive(Debug, Clone)]
struct Step {
    thought: String,
    tool: &'static str,
    arguments: Map<String, Value>,
    /// What to do instead when this edit does not apply.
    fallback: Option<Box<Step>>,
}

fn step(thought: String, tool: &'static str, arguments: Value) -> Step {
    let arguments = match arguments {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Step { thought, tool, arguments, fallback: None }
}

fn bash(thought: String, command: String) -> Step {
    step(thought, "bash", json!({ "command": command }))
}

fn submit_step(thought: &str) -> Step {
    step(thought.to_string(), "submit", json!({}))
}

/// The whole workflow for one instance, a pure function of the instance and the seed.
fn plan(instance: &Instance, workdir: &str, seed: u64) -> Vec<Step> {
    let mut rng = SplitMix64::derive(seed, &instance.id);
    let name = bare_name(&instance.entity);
    let file = instance.file.as_str();
    let is_python = file.ends_with(".py");
    let ext = file.rsplit('.').next().unwrap_or("rs");
    let path = |relative: &str| format!("{}/{relative}", workdir.trim_end_matches('/'));
    let mut steps = Vec::new();

    // 1. Get one's bearings.
    if rng.below(2) == 0 {
        let thought = pick(
            &mut rng,
            &[
                "Let me start by getting an overview of the repository structure.",
                "First, I'll look at how the repository is laid out.",
                "I'll begin by exploring the repository to see where things live.",
            ],
        );
        steps.push(step(
            thought,
            "str_replace_editor",
            json!({"command": "view", "path": workdir}),
        ));
    }
    let definition = if is_python { format!("def {name}") } else { format!("fn {name}") };
    let search = match rng.below(3) {
        0 => format!("grep -rn \"{definition}\" --include=\"*.{ext}\" ."),
        1 => format!("grep -rn \"{name}\" --include=\"*.{ext}\" . | head -n 40"),
        _ => format!("grep -n \"{name}\" {file}"),
    };
    let thought = match rng.below(3) {
        0 => {
            format!("The description points at `{name}`. Let me find where it is defined and used.")
        }
        1 => format!("Let me search the code for `{name}`, which the issue seems to be about."),
        _ => format!("I need to locate `{name}` first."),
    };
    steps.push(bash(thought, search));

    // 2. Read the code around the change.
    let (first, last) = changed_range(&instance.gold_patch.files, file);
    let whole = rng.below(4) == 0 || first == 0;
    let thought = match (whole, rng.below(3)) {
        (true, 0) => format!("Let me read `{file}` to understand what `{name}` does."),
        (true, _) => format!("`{name}` is in `{file}`. Let me look at the whole file."),
        (false, 0) => format!("Let me read `{name}` in `{file}` to understand what it does."),
        (false, 1) => format!("`{name}` is in `{file}`. Let me look at it closely."),
        (false, _) => format!("Let me view the relevant part of `{file}`."),
    };
    let view = if whole {
        json!({"command": "view", "path": path(file)})
    } else {
        let before = 4 + rng.below(12) as usize;
        let after = 4 + rng.below(16) as usize;
        json!({"command": "view", "path": path(file), "view_range": [first.saturating_sub(before).max(1), last + after]})
    };
    // A range past the end of the file is refused by the editor; keep the end within bounds by
    // asking for "to the end" when the padding might overshoot.
    let view = clamp_view(view, &instance.gold_patch.files, file);
    steps.push(step(thought, "str_replace_editor", view));

    // 3. Look at a failing test, sometimes.
    let test_names: Vec<String> =
        instance.fail_to_pass.iter().map(|key| test_leaf(key, is_python)).collect();
    if let Some(test) = test_names.first().filter(|_| rng.below(2) == 0) {
        let thought = format!("Let me see what the test `{test}` expects.");
        let where_ = if is_python { "tests" } else { "." };
        steps.push(bash(thought, format!("grep -rn -A 12 \"def {test}\\|fn {test}\" {where_} --include=\"*.{ext}\" | head -n 40")));
    }

    // 4. Reproduce: run the failing tests directly, or (Python, sometimes) through a small
    // reproduction script, as the task message suggests, removed again before submitting.
    let focused = focused_test_command(instance, is_python);
    let script = is_python
        && !instance.fail_to_pass.is_empty()
        && instance.fail_to_pass.len() <= 6
        && rng.below(2) == 0;
    let rerun = if script {
        let ids: Vec<String> = instance.fail_to_pass.iter().map(|id| format!("{:?}", id)).collect();
        let text = format!(
            "\"\"\"Reproduce the reported problem by running the tests that cover it.\"\"\"\nimport sys\n\nimport pytest\n\nsys.exit(pytest.main([\"-q\", \"-p\", \"no:cacheprovider\", {}]))\n",
            ids.join(", ")
        );
        steps.push(step(
            "Let me write a small script that reproduces the problem by running the tests that cover this behaviour.".to_string(),
            "str_replace_editor",
            json!({"command": "create", "path": path(REPRO_SCRIPT), "file_text": text}),
        ));
        let command = format!("python3 {REPRO_SCRIPT}");
        steps.push(bash("Let me run it to confirm the error.".to_string(), command.clone()));
        command
    } else {
        let thought = pick(
            &mut rng,
            &[
                "Before changing anything, let me reproduce the problem by running the tests that exercise this behaviour.",
                "Let me confirm the bug first by running the relevant tests.",
                "I'll reproduce the failure with the tests that cover this code.",
            ],
        );
        steps.push(bash(thought, focused.clone()));
        focused
    };

    // 5. Fix, one edit per hunk of the gold patch.
    for file_patch in &instance.gold_patch.files {
        steps.extend(edits(file_patch, &path, &name, &mut rng));
    }

    // 6. Check the edit, rerun, maybe run everything.
    if rng.below(3) == 0 {
        let (first, last) = changed_range(&instance.gold_patch.files, file);
        if first > 0 {
            let thought = "Let me double-check the edited code.".to_string();
            let view = json!({"command": "view", "path": path(file), "view_range": [first.saturating_sub(3).max(1), last + 3]});
            steps.push(step(
                thought,
                "str_replace_editor",
                clamp_view(view, &instance.gold_patch.files, file),
            ));
        }
    }
    let thought = pick(
        &mut rng,
        if script {
            &[
                "Now let me run the reproduction script again to confirm the fix.",
                "The edit is in. Rerunning the reproduction script.",
            ]
        } else {
            &[
                "Now let me rerun the failing tests to confirm the fix.",
                "The edit is in. Rerunning the tests that failed before.",
            ]
        },
    );
    steps.push(bash(thought, rerun));
    if rng.below(2) == 0 {
        let thought =
            "Let me also run the whole test suite to make sure nothing else broke.".to_string();
        steps.push(bash(thought, full_test_command(instance)));
    }

    // 7. Submit, review, submit.
    steps.push(submit_step(&pick(
        &mut rng,
        &[
            "The fix is in place and the tests pass. Let me submit.",
            "Everything passes now. I'll submit the change.",
        ],
    )));
    if script {
        // The review checklist asks for it; a person removes the script after the first submit.
        let at = steps.len() - 1;
        steps.insert(
            at + 1,
            bash(
                "The review asks to remove the reproduction script. Removing it.".to_string(),
                format!("rm {REPRO_SCRIPT}"),
            ),
        );
    }
    let files: Vec<&str> = instance.gold_patch.files.iter().map(FilePatch::path).collect();
    let script_note = if script {
        "I removed the reproduction script"
    } else {
        "I did not create a reproduction script"
    };
    steps.push(submit_step(&format!(
        "I've reviewed the diff: it only touches {}, {script_note}, and no test files were changed. Submitting again to confirm.",
        files.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
    )));
    steps
}

/// The `str_replace_editor` calls that apply one file's gold hunks.
fn edits(
    file: &FilePatch,
    path: &dyn Fn(&str) -> String,
    name: &str,
    rng: &mut SplitMix64,
) -> Vec<Step> {
    let target = path(file.path());
    if file.old_path.is_none() {
        let text: String =
            file.hunks.iter().flat_map(|h| h.lines.iter()).map(|l| l.text.as_str()).collect();
        let thought = format!("I'll add the missing file `{}`.", file.path());
        let create = step(
            thought,
            "str_replace_editor",
            json!({"command": "create", "path": target, "file_text": text}),
        );
        // `create` refuses a missing parent directory, as SWE-agent's editor does.
        return match file.path().rsplit_once('/') {
            Some((dir, _)) => vec![
                bash(format!("The folder `{dir}` may not exist yet."), format!("mkdir -p {dir}")),
                create,
            ],
            None => vec![create],
        };
    }
    if file.new_path.is_none() {
        let thought = format!("`{}` should not exist; removing it.", file.path());
        return vec![bash(thought, format!("rm {}", file.path()))];
    }
    file.hunks
        .iter()
        .map(|hunk| {
            let removed: Vec<&str> = hunk.lines.iter().filter(|l| l.kind == LineKind::Removed).map(|l| l.text.trim()).collect();
            let added: Vec<&str> = hunk.lines.iter().filter(|l| l.kind == LineKind::Added).map(|l| l.text.trim()).collect();
            let thought = match (removed.as_slice(), added.as_slice()) {
                ([old], [new]) => format!(
                    "I see the problem in `{name}`: the code has `{old}` where it should have `{new}`. Let me fix that."
                ),
                ([], new) if !new.is_empty() => format!(
                    "I see the problem in `{name}`: something is missing here. It needs `{}`. Let me add it back.",
                    new.join(" ")
                ),
                (old, []) if !old.is_empty() => format!(
                    "I see the problem in `{name}`: `{}` should not be there. Let me remove it.",
                    old.join(" ")
                ),
                _ => format!("I see the problem in `{name}`: this block does not do what the description asks. Let me rewrite it."),
            };
            let context = 1 + rng.below(2) as usize;
            let (tight_old, tight_new) = hunk_text(hunk, context);
            let (full_old, full_new) = hunk_text(hunk, usize::MAX);
            let mut edit = step(
                thought,
                "str_replace_editor",
                json!({"command": "str_replace", "path": target, "old_str": tight_old, "new_str": tight_new}),
            );
            if tight_old != full_old {
                edit.fallback = Some(Box::new(step(
                    "That snippet is not unique in the file. I'll include more surrounding lines.".to_string(),
                    "str_replace_editor",
                    json!({"command": "str_replace", "path": target, "old_str": full_old, "new_str": full_new}),
                )));
            }
            edit
        })
        .collect()
}

/// The old and new text of a hunk with at most `context` unchanged lines kept on each side,
/// without the final newline (as a person would select the lines).
fn hunk_text(hunk: &Hunk, context: usize) -> (String, String) {
    let lines = &hunk.lines;
    let first_change = lines.iter().position(|l| l.kind != LineKind::Context).unwrap_or(0);
    let last_change = lines.iter().rposition(|l| l.kind != LineKind::Context).unwrap_or(0);
    let mut start = first_change.saturating_sub(context);
    let mut end = last_change.saturating_add(context).min(lines.len().saturating_sub(1));
    // Blank context lines at the edges anchor nothing; a person would not select them.
    let blank =
        |line: &sera_core::Line| line.kind == LineKind::Context && line.text.trim().is_empty();
    while start < first_change && blank(&lines[start]) {
        start += 1;
    }
    while end > last_change && blank(&lines[end]) {
        end -= 1;
    }
    // A pure insertion needs at least one line of context to anchor it.
    if lines[start..=end].iter().all(|l| l.kind == LineKind::Added) && start > 0 {
        start -= 1;
    }
    let mut old = String::new();
    let mut new = String::new();
    for line in &lines[start..=end] {
        if line.kind != LineKind::Added {
            old.push_str(&line.text);
        }
        if line.kind != LineKind::Removed {
            new.push_str(&line.text);
        }
    }
    let trim = |text: String| {
        text.strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t).to_string())
            .unwrap_or(text)
    };
    (trim(old), trim(new))
}

/// First and last line (1-based, in the bugged file) that the gold patch touches in `file`;
/// `(0, 0)` when it touches none.
fn changed_range(files: &[FilePatch], file: &str) -> (usize, usize) {
    let Some(patch) = files.iter().find(|f| f.old_path.as_deref() == Some(file)) else {
        return (0, 0);
    };
    let mut range: Option<(usize, usize)> = None;
    for hunk in &patch.hunks {
        let mut line = hunk.old_start;
        for entry in &hunk.lines {
            if entry.kind != LineKind::Added {
                if entry.kind == LineKind::Removed {
                    range = Some(range.map_or((line, line), |(a, b)| (a.min(line), b.max(line))));
                }
                line += 1;
            } else {
                range = Some(range.map_or((line, line), |(a, b)| (a.min(line), b.max(line))));
            }
        }
    }
    range.unwrap_or((0, 0))
}

/// Replaces a range end that may be past the file's end with -1 ("to the end"). The oracle
/// does not read files behind the agent's back; it knows a lower bound of the file's length
/// from the gold hunk, and only asks for lines it knows exist.
fn clamp_view(mut view: Value, files: &[FilePatch], file: &str) -> Value {
    let known = files
        .iter()
        .find(|f| f.old_path.as_deref() == Some(file))
        .and_then(|f| f.hunks.last())
        .map_or(0, |h| h.old_start + h.old_count.saturating_sub(1));
    if let Some(Value::Array(range)) = view.get_mut("view_range") {
        if range.get(1).and_then(Value::as_u64).is_some_and(|end| end as usize > known) {
            range[1] = json!(-1);
        }
    }
    view
}

fn pick(rng: &mut SplitMix64, options: &[&str]) -> String {
    rng.choose(options).copied().unwrap_or_default().to_string()
}

/// The last segment of `a::b::c` or `a.b.c`.
fn bare_name(qualified: &str) -> String {
    qualified
        .rsplit("::")
        .next()
        .unwrap_or(qualified)
        .rsplit('.')
        .next()
        .unwrap_or(qualified)
        .to_string()
}

/// The function name of a test key: `bin::path::name` for cargo, a pytest node id otherwise.
fn test_leaf(key: &str, is_python: bool) -> String {
    if is_python {
        let leaf = key.rsplit("::").next().unwrap_or(key);
        leaf.split('[').next().unwrap_or(leaf).to_string()
    } else {
        key.rsplit("::").next().unwrap_or(key).to_string()
    }
}

/// The instance's test command restricted to its failing tests, as a shell line.
fn focused_test_command(instance: &Instance, is_python: bool) -> String {
    let base = full_test_command(instance);
    if instance.fail_to_pass.is_empty() || instance.fail_to_pass.len() > 6 {
        return format!("{base} 2>&1 | tail -n 40");
    }
    if is_python {
        let ids: Vec<String> = instance.fail_to_pass.iter().map(|id| shell_quote(id)).collect();
        format!("{base} {} 2>&1 | tail -n 40", ids.join(" "))
    } else {
        let mut names: Vec<String> =
            instance.fail_to_pass.iter().map(|key| test_path(key)).collect();
        names.dedup();
        let base = match package_scoped(&instance.test_command, &instance.fail_to_pass) {
            Some(argv) => argv.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" "),
            None => base,
        };
        let separator = if instance.test_command.iter().any(|a| a == "--") { "" } else { " --" };
        format!("{base}{separator} {} 2>&1 | tail -n 40", names.join(" "))
    }
}

/// For tests of a cargo workspace (keys `package/binary::path`), the test command restricted
/// to their packages as a developer would type it: `-p package` instead of `--workspace`, and
/// without the JSON message format the validator reads packages from. `None` for the keys of a
/// single package.
fn package_scoped(command: &[String], keys: &[String]) -> Option<Vec<String>> {
    let mut packages: Vec<&str> = keys.iter().filter_map(|key| key_package(key)).collect();
    packages.sort_unstable();
    packages.dedup();
    if packages.is_empty() {
        return None;
    }
    let end = command.iter().position(|a| a == "--").unwrap_or(command.len());
    let mut argv = Vec::new();
    for (index, word) in command.iter().enumerate() {
        let scope = index < end
            && (word == "--workspace" || word == "--all" || word.starts_with("--message-format"));
        if !scope {
            argv.push(word.clone());
        }
        if index < end && word == "test" {
            for package in &packages {
                argv.push("-p".to_string());
                argv.push(package.to_string());
            }
        }
    }
    Some(argv)
}

/// The package of a cargo workspace test key: `beta-core/integration::helpers_agree` →
/// `beta-core`. Single-package keys have no slash in their binary before a colon
/// (`ledger:src/main.rs::t` is the unit tests of a binary target).
fn key_package(key: &str) -> Option<&str> {
    let binary = key.split_once("::").map_or(key, |(binary, _)| binary);
    let (package, _) = binary.split_once('/')?;
    (!package.is_empty() && !package.contains(':')).then_some(package)
}

/// A libtest filter for a cargo test key `binary::module::name` (or, in a workspace,
/// `package/binary::module::name`): the path without the binary.
fn test_path(key: &str) -> String {
    match key.split_once("::") {
        Some((_, rest)) if rest.contains("::") => rest.to_string(),
        _ => key.rsplit("::").next().unwrap_or(key).to_string(),
    }
}

fn full_test_command(instance: &Instance) -> String {
    let argv: Vec<String> = instance.test_command.iter().map(|a| shell_quote(a)).collect();
    argv.join(" ")
}

fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sera_core::Patch;

    #[test]
    fn hunk_text_keeps_the_requested_context_and_anchors_insertions() {
        let patch =
            Patch::parse("--- a/x.py\n+++ b/x.py\n@@ -1,5 +1,6 @@\n a\n b\n c\n+d\n e\n f\n")
                .expect("parses");
        let hunk = &patch.files[0].hunks[0];
        assert_eq!(hunk_text(hunk, 1), ("c\ne".to_string(), "c\nd\ne".to_string()));
        assert_eq!(
            hunk_text(hunk, usize::MAX),
            ("a\nb\nc\ne\nf".to_string(), "a\nb\nc\nd\ne\nf".to_string())
        );
    }

    #[test]
    fn a_new_file_in_a_folder_is_created_after_making_the_folder() {
        let path = |p: &str| format!("/testbed/{p}");
        let mut rng = SplitMix64::new(1);
        let nested = sera_core::FilePatch::created("pkg/new/m.py", "x = 1\n");
        let steps = edits(&nested, &path, "m", &mut rng);
        let calls: Vec<String> = steps
            .iter()
            .map(|s| format!("{} {}", s.tool, Value::Object(s.arguments.clone())))
            .collect();
        assert_eq!(
            calls,
            [
                r#"bash {"command":"mkdir -p pkg/new"}"#,
                r#"str_replace_editor {"command":"create","path":"/testbed/pkg/new/m.py","file_text":"x = 1\n"}"#
            ]
        );
        let top = sera_core::FilePatch::created("m.py", "x = 1\n");
        assert_eq!(edits(&top, &path, "m", &mut rng).len(), 1);
    }

    #[test]
    fn test_keys_become_filters() {
        assert_eq!(
            test_path("ledger::account::tests::transfer_moves_money"),
            "account::tests::transfer_moves_money"
        );
        assert_eq!(test_leaf("tests/test_core.py::TestInventory::test_take[1]", true), "test_take");
        assert_eq!(bare_name("inventory.core.Inventory.take"), "take");
        assert_eq!(bare_name("account::Ledger::transfer"), "transfer");
        assert_eq!(test_path("beta-core/integration::helpers_agree"), "helpers_agree");
        assert_eq!(
            test_path("beta-core/beta_core::tests::word_count_ignores_extra_spaces"),
            "tests::word_count_ignores_extra_spaces"
        );
    }

    #[test]
    fn workspace_keys_scope_the_focused_command_to_their_packages() {
        let words = |line: &str| line.split(' ').map(String::from).collect::<Vec<_>>();
        let command = words(
            "cargo test --offline --no-fail-fast --workspace --message-format=json-render-diagnostics",
        );
        let keys = words(
            "beta-core/integration::helpers_agree alpha/alpha::tests::t beta-core/beta_core::x",
        );
        assert_eq!(
            package_scoped(&command, &keys),
            Some(words("cargo test -p alpha -p beta-core --offline --no-fail-fast"))
        );
        let single = words("ledger::account::tests::t integration::a ledger:src/main.rs::b");
        assert_eq!(package_scoped(&command, &single), None);
        assert_eq!(key_package("ledger:src/main.rs::b"), None);
        assert_eq!(key_package("app/app:src/main.rs::b"), Some("app"));
    }
}
