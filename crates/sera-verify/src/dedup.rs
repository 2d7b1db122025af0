//! Patch dedup: drop SVG rollout-1 patches (P1) that are empty or repeat an earlier one before
//! rollout 2 is paid for.
//!
//! Two patches are duplicates when their normalised texts are equal. Normalisation removes what
//! differs between two diffs of the same change made at different times or by different tools:
//!
//! - `index 1a2b..3c4d 100644` lines (blob ids depend on the rest of the file);
//! - hunk header numbers and section text (`@@ -10,7 +10,8 @@ fn x` becomes `@@`), since
//!   positions shift with unrelated edits;
//! - trailing whitespace on every line, `\r` line endings and the
//!   `\ No newline at end of file` marker;
//! - blank lines between file sections and any text before the first file header.
//!
//! What is kept: file names (`diff --git`, `---`, `+++`), mode lines and every hunk body line
//! with its sign, so two different changes never collapse into one.

use std::collections::HashSet;

/// The normalised text of a diff, one line per kept line, each ending in `\n`.
///
/// ```
/// use sera_verify::dedup::normalize;
/// let a = "diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1 +1 @@ fn f\n-a \n+b\n";
/// let b = "diff --git a/x b/x\nindex 7..8 100644\n--- a/x\n+++ b/x\n@@ -9 +9 @@\n-a\n+b\n";
/// assert_eq!(normalize(a), normalize(b));
/// ```
pub fn normalize(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len());
    let mut started = false;
    for line in diff.split('\n') {
        let line = line.trim_end();
        if !started {
            started =
                line.starts_with("diff ") || line.starts_with("--- ") || line.starts_with("@@");
            if !started {
                continue;
            }
        }
        if line.is_empty() || line.starts_with("index ") || line.starts_with('\\') {
            continue;
        }
        if line.starts_with("@@") {
            out.push_str("@@\n");
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A 64-bit fingerprint of the normalised text (FNV-1a: stable across runs and machines).
pub fn fingerprint(diff: &str) -> u64 {
    normalize(diff).bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether the diff changes no line (ignoring whitespace-only lines, as recall does).
pub fn is_empty(diff: &str) -> bool {
    crate::recall::changed_lines(diff).is_empty()
}

/// Why a patch was not kept by [`Dedup::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The patch changes no line.
    Empty,
    /// The patch normalises to the same text as an earlier one.
    Duplicate,
}

/// Remembers the fingerprints of patches seen so far (8 bytes each).
#[derive(Debug, Default)]
pub struct Dedup {
    seen: HashSet<u64>,
}

impl Dedup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts the first occurrence of each non-empty patch; rejects empty ones and repeats.
    pub fn check(&mut self, diff: &str) -> Result<(), Rejection> {
        if is_empty(diff) {
            return Err(Rejection::Empty);
        }
        if self.seen.insert(fingerprint(diff)) { Ok(()) } else { Err(Rejection::Duplicate) }
    }

    /// How many distinct patches were accepted.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_same(a: &str, b: &str, same: bool) {
        assert_eq!(normalize(a) == normalize(b), same, "\n{}\nvs\n{}", normalize(a), normalize(b));
    }

    const BASE: &str = "diff --git a/x b/x\nindex 1a..2b 100644\n--- a/x\n+++ b/x\n@@ -3,4 +3,4 @@ fn f\n ctx\n-a\n+b\n";

    #[test]
    fn index_lines_and_hunk_positions_are_ignored() {
        check_same(
            BASE,
            &BASE.replace("1a..2b", "ff..ee").replace("-3,4 +3,4 @@ fn f", "-30,4 +31,4 @@"),
            true,
        );
    }

    #[test]
    fn trailing_whitespace_crlf_and_markers_are_ignored() {
        check_same(BASE, &BASE.replace('\n', "\r\n"), true);
        check_same(BASE, &BASE.replace("+b\n", "+b  \n"), true);
        check_same(BASE, &format!("{BASE}\\ No newline at end of file\n"), true);
        check_same(BASE, &format!("commit message\n\n{BASE}\n\n"), true);
    }

    #[test]
    fn different_changes_or_files_stay_different() {
        check_same(BASE, &BASE.replace("+b", "+c"), false);
        check_same(BASE, &BASE.replace("a/x b/x", "a/y b/y").replace("/x\n", "/y\n"), false);
        check_same(BASE, &BASE.replace(" ctx", "  ctx"), false);
    }

    #[test]
    fn dedup_rejects_empty_and_repeated_patches() {
        let mut dedup = Dedup::new();
        assert_eq!(dedup.check(""), Err(Rejection::Empty));
        assert_eq!(dedup.check("diff --git a/x b/x\n"), Err(Rejection::Empty));
        assert_eq!(dedup.check(BASE), Ok(()));
        assert_eq!(dedup.check(&BASE.replace("1a..2b", "9..9")), Err(Rejection::Duplicate));
        assert_eq!(dedup.check(&BASE.replace("+b", "+c")), Ok(()));
        assert_eq!(dedup.len(), 2);
    }

    #[test]
    fn fingerprint_is_stable() {
        // FNV-1a's offset basis for no input; equal for CRLF and LF twins.
        assert_eq!(fingerprint(BASE), fingerprint(&BASE.replace('\n', "\r\n")));
        assert_eq!(fingerprint(""), 0xcbf2_9ce4_8422_2325);
    }
}
