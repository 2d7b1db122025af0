//! Soft verification: line-level recall of a target patch's changed lines in a candidate patch.
//!
//! This is SERA's criterion for keeping an SVG rollout-2 trajectory, and a useful continuous
//! score for any patch against a gold patch. It works on the diff TEXT, as SERA does, not on a
//! parsed [`sera_core::Patch`], so it accepts whatever a model or a tool produced, including
//! diffs that would not parse or apply.
//!
//! # Changed lines
//!
//! A changed line is a line of the diff text that starts with `+` or `-`, except
//!
//! - header lines: those starting with `diff`, `---`, `+++` or `@@`;
//! - lines whose text after the sign is empty or whitespace only.
//!
//! The line is compared as a whole string, sign and indentation included; its file, position
//! and order do not matter. Decisions this module pins down (tests in this file):
//!
//! - **`---`/`+++` inside a hunk.** A removed line whose text starts with `--` renders as
//!   `--- ...` (an added `++...` line as `+++ ...`). Like the reference, this module treats such
//!   lines as headers and drops them from both patches. Reading hunks by their line counts would
//!   recover them, but then the score would no longer equal SERA's for the same diff text, and
//!   such lines are rare (SQL and Lua comments, decrement operators). Dropping them on both sides
//!   keeps the score symmetric.
//! - **Line endings.** Lines are split exactly where Python's `str.splitlines()` splits, as
//!   SERA's `compare_patch_recall` does: at `\n`, `\r\n`, a lone `\r`, `\x0b`, `\x0c`,
//!   `\x1c`, `\x1d`, `\x1e`, `\x85`, `\u{2028}` and `\u{2029}`. A CRLF patch therefore scores
//!   the same as its LF twin, and a separator inside a line's text (a form feed in a source file,
//!   a Unicode line separator in a string) splits it in two, as it does for SERA.
//! - **Blank lines.** "Whitespace only" means what Python's `str.strip()` removes: every
//!   character for which `str.isspace()` is true. That is Rust's `char::is_whitespace` plus the
//!   four information separators `\x1c`..`\x1f`, which Python counts as whitespace and Rust does
//!   not. A test of this module checks every pair of the corpus in
//!   `tests/data/sera-conformance/` against what SERA's own function answered.
//! - **`\ No newline at end of file`** starts with neither sign and is never a changed line;
//!   the line before it compares equal with or without the marker.
//! - **Multi-file patches** are one pool of lines: a line matches an equal line in any file.
//! - **Duplicates** are a multiset: two copies of a line in the target need two copies in the
//!   candidate.

use std::collections::HashMap;

use rayon::prelude::*;
use sera_core::pystr;
use serde::{Deserialize, Serialize};

/// The changed lines of a diff text, in order, as borrowed slices without their terminator.
///
/// ```
/// let diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n+  \n";
/// assert_eq!(sera_verify::recall::changed_lines(diff), vec!["-old", "+new"]);
/// ```
pub fn changed_lines(diff: &str) -> Vec<&str> {
    pystr::splitlines(diff).filter(|line| is_changed_line(line)).collect()
}

/// Whether one line (without terminator) of a diff counts as a changed line.
pub fn is_changed_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('+').or_else(|| line.strip_prefix('-')) else {
        return false;
    };
    let header = ["diff", "---", "+++", "@@"].iter().any(|prefix| line.starts_with(prefix));
    !header && !rest.chars().all(pystr::is_space)
}

/// How one recall computation came out, with the counts behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Recall {
    /// Changed lines of the target (|T|).
    pub target_lines: usize,
    /// Changed lines of the candidate (|G|).
    pub candidate_lines: usize,
    /// Target lines paired with a distinct equal candidate line.
    pub matched: usize,
}

impl Recall {
    /// `matched / target_lines`, or `None` when the target has no changed lines.
    pub fn value(&self) -> Option<f64> {
        (self.target_lines > 0).then(|| self.matched as f64 / self.target_lines as f64)
    }

    /// Whether the candidate is kept at `threshold`: the recall is defined, at least the
    /// threshold, and the candidate changes something. An empty candidate is never verified,
    /// not even at threshold 0.
    pub fn verified(&self, threshold: f64) -> bool {
        self.candidate_lines > 0 && self.value().is_some_and(|r| r >= threshold)
    }

    /// The name of the outcome: hard-verified (r = 1), soft-verified (0 < r < 1), unverified
    /// (r = 0) or undefined (no target lines).
    pub fn level(&self) -> Level {
        match self.value() {
            None => Level::Undefined,
            Some(r) if r >= 1.0 => Level::HardVerified,
            Some(r) if r > 0.0 => Level::SoftVerified,
            Some(_) => Level::Unverified,
        }
    }
}

/// SERA's names for ranges of the recall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// r = 1: every target line is in the candidate.
    HardVerified,
    /// 0 < r < 1.
    SoftVerified,
    /// r = 0.
    Unverified,
    /// The target has no changed lines, so recall is undefined (never counts as verified).
    Undefined,
}

/// Line recall of `target`'s changed lines in `candidate`, both unified diff texts.
///
/// ```
/// use sera_verify::recall::recall;
/// let target = "@@ -1,2 +1,2 @@\n-a = 1\n+a = 2\n";
/// let candidate = "@@ -1,2 +1,2 @@\n-a = 1\n+a = 3\n";
/// let r = recall(target, candidate);
/// assert_eq!(r.value(), Some(0.5));
/// assert!(r.verified(0.5) && !r.verified(0.51));
/// ```
pub fn recall(target: &str, candidate: &str) -> Recall {
    let target = changed_lines(target);
    let candidate = changed_lines(candidate);
    let mut pool: HashMap<&str, usize> = HashMap::with_capacity(candidate.len());
    for line in &candidate {
        *pool.entry(line).or_default() += 1;
    }
    let mut matched = 0;
    for line in &target {
        if let Some(count) = pool.get_mut(line).filter(|count| **count > 0) {
            *count -= 1;
            matched += 1;
        }
    }
    Recall { target_lines: target.len(), candidate_lines: candidate.len(), matched }
}

/// One pair of a batch: the target and candidate diff texts, with an optional id to carry
/// through to the result.
///
/// SERA rows read as pairs too: `instance_id`, `target_patch` and `rollout_patch` are accepted
/// as aliases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "instance_id")]
    pub id: Option<String>,
    #[serde(alias = "target_patch")]
    pub target: String,
    #[serde(alias = "rollout_patch", alias = "candidate_patch")]
    pub candidate: String,
}

/// The result for one [`Pair`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `null` when undefined.
    pub recall: Option<f64>,
    pub level: Level,
    #[serde(flatten)]
    pub counts: Recall,
}

/// Recall of every pair, in parallel, results in input order.
pub fn recall_batch(pairs: &[Pair]) -> Vec<PairResult> {
    pairs
        .par_iter()
        .map(|pair| {
            let counts = recall(&pair.target, &pair.candidate);
            PairResult {
                id: pair.id.clone(),
                recall: counts.value(),
                level: counts.level(),
                counts,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the recall of `target` in `candidate`; `expected` is `None` for undefined.
    #[track_caller]
    fn check(target: &str, candidate: &str, expected: Option<f64>) {
        let got = recall(target, candidate).value();
        match (got, expected) {
            (None, None) => {}
            (Some(a), Some(b)) if (a - b).abs() < 1e-12 => {}
            _ => panic!("recall: got {got:?}, expected {expected:?}\n{target}\n---\n{candidate}"),
        }
    }

    #[test]
    fn identical_patches_recall_one() {
        check("@@ -1 +1 @@\n-a\n+b\n", "@@ -1 +1 @@\n-a\n+b\n", Some(1.0));
    }

    #[test]
    fn partial_overlap_is_the_fraction_of_target_lines_found() {
        check("-a\n+b\n+c\n+d\n", "+b\n+d\n+x\n", Some(0.5));
        check("-a\n", "+a\n", Some(0.0));
        check("-a\n", "-a\n-a\n-a\n", Some(1.0));
    }

    #[test]
    fn sign_and_indentation_are_part_of_the_line() {
        check("+    return x\n", "+  return x\n", Some(0.0));
        check("+return x\n", "-return x\n", Some(0.0));
        check("+return x\n", "+return x \n", Some(0.0));
    }

    #[test]
    fn empty_target_is_undefined_and_never_verified() {
        check("", "+a\n", None);
        check("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,1 @@\n-\n+   \n", "+a\n", None);
        let r = recall("", "+a\n");
        assert!(!r.verified(0.0));
        assert_eq!(r.level(), Level::Undefined);
    }

    #[test]
    fn empty_candidate_is_never_verified_even_at_threshold_zero() {
        let r = recall("-a\n+b\n", "");
        assert_eq!(r.value(), Some(0.0));
        assert!(!r.verified(0.0));
        assert!(recall("-a\n+b\n", "+zzz\n").verified(0.0));
    }

    #[test]
    fn levels_follow_sera_naming() {
        assert_eq!(recall("-a\n+b\n", "-a\n+b\n").level(), Level::HardVerified);
        assert_eq!(recall("-a\n+b\n", "-a\n").level(), Level::SoftVerified);
        assert_eq!(recall("-a\n+b\n", "+c\n").level(), Level::Unverified);
    }

    #[test]
    fn header_lines_are_not_changed_lines() {
        let diff =
            "diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n@@ -1 +1 @@ fn x\n-a\n+b\n";
        assert_eq!(changed_lines(diff), vec!["-a", "+b"]);
    }

    #[test]
    fn double_dash_lines_inside_a_hunk_are_dropped_like_the_reference() {
        // `-- comment` removed renders as `--- comment`; `++i;` added renders as `+++i;`.
        let target = "@@ -1,2 +1,2 @@\n--- comment\n+++i;\n-x\n+y\n";
        assert_eq!(changed_lines(target), vec!["-x", "+y"]);
        check(target, "-x\n+y\n", Some(1.0));
        // A `--x` removed line (rendered `---x`) is dropped too, while `-- x` as text `- x`
        // (rendered `-- x`) is an ordinary removed line.
        assert_eq!(changed_lines("-- x\n---x\n"), vec!["-- x"]);
    }

    #[test]
    fn crlf_patch_scores_like_its_lf_twin() {
        let lf = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-old\n+new\n";
        let crlf = lf.replace('\n', "\r\n");
        check(lf, &crlf, Some(1.0));
        check(&crlf, lf, Some(1.0));
        assert_eq!(changed_lines(&crlf), vec!["-old", "+new"]);
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line_as_in_python() {
        // `+a\rb` is the changed line `+a` and the context-free text `b`.
        check("+a\rb\n", "+a\n", Some(1.0));
        assert_eq!(changed_lines("+a\r\r\n-b"), vec!["+a", "-b"]);
    }

    #[test]
    fn every_python_line_boundary_splits_and_others_do_not() {
        for sep in [
            "\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\u{85}", "\u{2028}",
            "\u{2029}",
        ] {
            assert_eq!(changed_lines(&format!("+a{sep}-b{sep}")), vec!["+a", "-b"], "{sep:?}");
        }
        for not_sep in ["\x1f", "\t", "\u{a0}"] {
            assert_eq!(changed_lines(&format!("+a{not_sep}-b")).len(), 1, "{not_sep:?}");
        }
    }

    #[test]
    fn information_separators_count_as_blank_like_python_strip() {
        // Rust's `trim` keeps U+001F; Python's `strip` removes it, so `+\x1f` is a blank line.
        assert!(changed_lines("+\x1f\n").is_empty());
        assert!(changed_lines("+ \u{3000}\u{a0}\n").is_empty());
        // U+200B and U+FEFF are not whitespace to either language.
        assert_eq!(changed_lines("+\u{200b}\n-\u{feff}\n").len(), 2);
    }

    #[test]
    fn no_newline_marker_is_ignored() {
        let target =
            "@@ -1 +1 @@\n-old\n\\ No newline at end of file\n+new\n\\ No newline at end of file";
        assert_eq!(changed_lines(target), vec!["-old", "+new"]);
        check(target, "@@ -1 +1 @@\n-old\n+new\n", Some(1.0));
    }

    #[test]
    fn multi_file_patches_pool_their_lines() {
        let target = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n\
                      diff --git a/y b/y\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-c\n+d\n";
        // The candidate makes the same edits in the other order and in other files.
        let candidate = "diff --git a/z b/z\n--- a/z\n+++ b/z\n@@ -1,2 +1,2 @@\n-c\n-a\n+d\n+b\n";
        check(target, candidate, Some(1.0));
    }

    #[test]
    fn duplicate_lines_are_matched_one_copy_each() {
        check("+}\n+}\n+}\n-x\n", "+}\n-x\n", Some(0.5));
        check("+}\n", "+}\n+}\n", Some(1.0));
        let r = recall("+}\n+}\n", "+}\n");
        assert_eq!((r.target_lines, r.candidate_lines, r.matched), (2, 1, 1));
    }

    #[test]
    fn whitespace_only_changes_are_not_changed_lines() {
        assert_eq!(changed_lines("+\n-\n+   \n-\t\n+ a\n"), vec!["+ a"]);
    }

    #[test]
    fn git_fixture_with_every_edge_case() {
        let diff = include_str!("../../../tests/data/patches/git-edits/git.diff");
        let lines = changed_lines(diff);
        // The fixture's removed `--` line is rendered `--- ...` and dropped like a header.
        assert!(lines.iter().all(|line| !line.starts_with("---") && !line.starts_with("+++")));
        assert!(lines.contains(&"-line 33"));
        check(diff, diff, Some(1.0));
        // Against its own reverse, only lines present with both signs can match.
        let reversed =
            diff.replace("\n-", "\n\u{0}").replace("\n+", "\n-").replace("\n\u{0}", "\n+");
        assert!(recall(diff, &reversed).value().is_some_and(|r| r < 1.0));
    }

    /// The recall pairs of the SERA conformance corpus and SERA's answers on them.
    fn conformance_corpus() -> Vec<(serde_json::Value, serde_json::Value)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/sera-conformance");
        let read = |path: &str| -> Vec<serde_json::Value> {
            let text = std::fs::read_to_string(dir.join(path)).expect("the corpus is committed");
            text.lines().map(|l| serde_json::from_str(l).expect("corpus lines are JSON")).collect()
        };
        let (pairs, expected) = (read("inputs/recall-pairs.jsonl"), read("expected/recall.jsonl"));
        assert_eq!(pairs.len(), expected.len());
        pairs.into_iter().zip(expected).collect()
    }

    #[test]
    fn recall_equals_sera_compare_patch_recall_on_every_corpus_pair() {
        let corpus = conformance_corpus();
        assert!(corpus.len() >= 300, "the corpus has {} pairs", corpus.len());
        let mut failures = Vec::new();
        for (pair, want) in &corpus {
            assert_eq!(pair["id"], want["id"]);
            let (target, candidate) =
                (pair["target"].as_str().unwrap(), pair["candidate"].as_str().unwrap());
            let got = recall(target, candidate).value();
            // SERA's value is Python's repr of m/n; parsing it gives the same f64 exactly.
            let sera: Option<f64> = want["recall"].as_str().map(|r| r.parse().unwrap());
            // compare_patch_recall answers `m / n >= threshold`, or None when n = 0.
            let answers_agree = want["answers"].as_object().unwrap().iter().all(|(t, answer)| {
                let t: f64 = t.parse().unwrap();
                got.map(|r| r >= t) == answer.as_bool()
            });
            if got.map(f64::to_bits) != sera.map(f64::to_bits) || !answers_agree {
                failures.push(format!("{}: sera-rs {got:?}, SERA {sera:?}", pair["id"]));
            }
        }
        assert!(failures.is_empty(), "{} pairs differ:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn batch_keeps_input_order_and_ids() {
        let pairs: Vec<Pair> = (0..50)
            .map(|i| Pair {
                id: Some(format!("p{i}")),
                target: "-a\n+b\n".into(),
                candidate: if i % 2 == 0 { "-a\n+b\n".into() } else { String::new() },
            })
            .collect();
        let results = recall_batch(&pairs);
        assert_eq!(results.len(), 50);
        assert_eq!(results[3].id.as_deref(), Some("p3"));
        assert_eq!(results[4].recall, Some(1.0));
        assert_eq!(results[5].recall, Some(0.0));
        let json = serde_json::to_string(&results[4]).unwrap();
        assert_eq!(
            json,
            r#"{"id":"p4","recall":1.0,"level":"hard-verified","target_lines":2,"candidate_lines":2,"matched":2}"#
        );
    }
}
