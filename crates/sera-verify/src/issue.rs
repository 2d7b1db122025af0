//! Template issue texts written from failing tests' output.
//!
//! The text names the failing tests and quotes their assertion or panic lines, as a user
//! reporting the bug would; it never mentions the change that caused it or how to fix it.

use std::collections::BTreeMap;

/// Failing tests quoted in full; the others are only listed.
const QUOTED: usize = 3;
/// Failing tests listed at all.
const LISTED: usize = 12;

/// The problem statement of an instance whose `failing` tests (keys, sorted) fail, with the
/// output excerpts the runner kept per test.
pub fn problem_statement(
    repo: &str,
    test_command: &[String],
    failing: &[String],
    excerpts: &BTreeMap<String, String>,
) -> String {
    let mut text = String::new();
    let count = failing.len();
    let tests = if count == 1 { "test fails" } else { "tests fail" };
    text.push_str(&format!("{count} {tests} in `{repo}`\n\n"));
    text.push_str(&format!(
        "Running the test suite (`{}`) on the current code, {} that used to pass now {}:\n\n",
        test_command.join(" "),
        if count == 1 { "one test" } else { "these tests" },
        if count == 1 { "fails" } else { "fail" },
    ));
    for name in failing.iter().take(LISTED) {
        text.push_str(&format!("- `{name}`\n"));
    }
    if count > LISTED {
        text.push_str(&format!("- and {} more\n", count - LISTED));
    }
    let quoted: Vec<(&String, &String)> = failing
        .iter()
        .filter_map(|name| excerpts.get(name).map(|e| (name, e)))
        .take(QUOTED)
        .collect();
    for (name, excerpt) in quoted {
        text.push_str(&format!("\nOutput of `{name}`:\n\n```\n{}\n```\n", excerpt.trim_end()));
    }
    text.push_str(
        "\nThe rest of the suite still passes. Expected: these tests pass again, without \
         changing the tests themselves.\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_tests_and_quotes_their_output() {
        let failing = vec!["integration::clamp_keeps_values_in_range".to_string()];
        let excerpts = BTreeMap::from([(
            failing[0].clone(),
            "assertion `left == right` failed\n  left: 0".to_string(),
        )]);
        let cmd = vec!["cargo".to_string(), "test".to_string()];
        let text = problem_statement("ledger", &cmd, &failing, &excerpts);
        assert!(text.starts_with("1 test fails in `ledger`\n"), "{text}");
        assert!(text.contains("- `integration::clamp_keeps_values_in_range`\n"));
        assert!(text.contains("```\nassertion `left == right` failed\n  left: 0\n```"));
    }
}
