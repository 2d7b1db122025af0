//! The [`Verifier`] trait: one judgement of one candidate patch. The built-in hard check
//! ([`TestsVerifier`]), the built-in soft check ([`RecallVerifier`]) and plugin verifiers (through
//! `sera-plugin-host`) all implement it, so a pipeline asks each of a list the same question and
//! keeps a patch only when every one accepts it.
//!
//! Verifiers judge what is already known of a patch (whether the tests passed, its recall); they
//! run nothing themselves, so a judgement is cheap and the same inputs give the same verdict.

use sera_core::{Instance, Patch, Verdict};

/// A patch to judge and what is known of it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The task the patch answers. In SVG mode, where nothing was injected and no tests were
    /// collected, the pipeline makes one from the trajectory (start function, bug class, issue).
    pub instance: &'a Instance,
    pub patch: &'a Patch,
    /// Whether the instance's tests pass with the patch; `None` when they were not run.
    pub resolved: Option<bool>,
    /// Line recall of the instance's gold patch (SVG: of P1) in `patch`; `None` when undefined.
    pub recall: Option<f64>,
    /// The trajectory the patch comes from, recorded in the verdict.
    pub trajectory_id: Option<&'a str>,
}

/// A judge of candidate patches.
pub trait Verifier: Send + Sync {
    /// The name verdicts carry, e.g. `tests`, `recall` or a plugin verifier's.
    fn name(&self) -> &str;

    /// The verdict on `candidate`, or why none could be given (a plugin's error or panic); a
    /// pipeline stops on an error rather than keep or drop a patch nobody judged.
    fn verify(&self, candidate: &Candidate<'_>) -> Result<Verdict, String>;
}

/// Hard verification: accepts a patch with which the instance's tests pass (every
/// FAIL_TO_PASS test now passes and every PASS_TO_PASS test still does).
#[derive(Debug, Clone, Copy, Default)]
pub struct TestsVerifier;

impl Verifier for TestsVerifier {
    fn name(&self) -> &str {
        "tests"
    }

    fn verify(&self, candidate: &Candidate<'_>) -> Result<Verdict, String> {
        let (accepted, reason) = match candidate.resolved {
            Some(true) => (true, "the instance's tests pass".to_string()),
            Some(false) => (false, "the instance's tests do not all pass".to_string()),
            None => (false, "the instance's tests were not run".to_string()),
        };
        let score = candidate.resolved.map(|r| if r { 1.0 } else { 0.0 });
        Ok(verdict(self, candidate, accepted, score, reason))
    }
}

/// Soft verification: accepts a patch whose line recall of the target patch is at least
/// `threshold`. An undefined recall (a target with no changed lines) passes only a threshold
/// of 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecallVerifier {
    pub threshold: f64,
}

impl Verifier for RecallVerifier {
    fn name(&self) -> &str {
        "recall"
    }

    fn verify(&self, candidate: &Candidate<'_>) -> Result<Verdict, String> {
        let threshold = self.threshold;
        let (accepted, reason) = match candidate.recall {
            Some(recall) if recall >= threshold => {
                (true, format!("recall {recall:.3} is at least {threshold}"))
            }
            Some(recall) => (false, format!("recall {recall:.3} is below {threshold}")),
            None => {
                (threshold == 0.0, format!("recall is undefined; the threshold is {threshold}"))
            }
        };
        Ok(verdict(self, candidate, accepted, candidate.recall, reason))
    }
}

fn verdict(
    verifier: &dyn Verifier,
    candidate: &Candidate<'_>,
    accepted: bool,
    score: Option<f64>,
    reason: String,
) -> Verdict {
    Verdict {
        instance_id: candidate.instance.id.clone(),
        trajectory_id: candidate.trajectory_id.map(str::to_string),
        verifier: verifier.name().to_string(),
        accepted,
        score,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Instance {
        let bug = Patch::between("a.py", "x = 1\n", "x = 2\n");
        Instance {
            id: "i-1".into(),
            repo: "demo".into(),
            commit: None,
            mutant_id: "m-1".into(),
            file: "a.py".into(),
            entity: "f".into(),
            operator: "constant-off-by-one".into(),
            classes: vec![],
            gold_patch: bug.reverse(),
            bug_patch: bug,
            fail_to_pass: vec!["test_x".into()],
            pass_to_pass: vec![],
            problem_statement: String::new(),
            test_command: vec![],
        }
    }

    #[test]
    fn tests_and_recall_verifiers_judge_what_is_known() {
        let instance = instance();
        let patch = instance.gold_patch.clone();
        let candidate = |resolved, recall| Candidate {
            instance: &instance,
            patch: &patch,
            resolved,
            recall,
            trajectory_id: Some("t-1"),
        };
        let tests = TestsVerifier;
        let passed = tests.verify(&candidate(Some(true), None)).unwrap();
        assert!(passed.accepted);
        assert_eq!((passed.score, passed.trajectory_id.as_deref()), (Some(1.0), Some("t-1")));
        assert!(!tests.verify(&candidate(Some(false), None)).unwrap().accepted);
        assert!(!tests.verify(&candidate(None, None)).unwrap().accepted);

        let half = RecallVerifier { threshold: 0.5 };
        assert!(half.verify(&candidate(None, Some(0.5))).unwrap().accepted);
        let low = half.verify(&candidate(None, Some(0.25))).unwrap();
        assert_eq!((low.accepted, low.reason.as_str()), (false, "recall 0.250 is below 0.5"));
        assert!(!half.verify(&candidate(None, None)).unwrap().accepted);
        assert!(RecallVerifier { threshold: 0.0 }.verify(&candidate(None, None)).unwrap().accepted);
    }
}
