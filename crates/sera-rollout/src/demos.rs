//! Pools of demonstration issues built from real ones, for the SVG issue writer.
//!
//! SERA draws one demonstration per synthetic issue from the 500 problem statements of
//! SWE-bench Verified, or from a repository's own issues scraped from GitHub
//! (`scrape_github.py`: bodies of issues, pull requests left out). Neither can ship with
//! sera-rs, so [`build`] makes a pool from what a user has: a tracker export such as the
//! output of `gh issue list --state closed --json title,body,state,url`, pages of GitHub's REST
//! `/issues` API (`gh api --paginate`), or SWE-bench-style rows with a `problem_statement`.
//!
//! An issue's text is its title, a newline, and its body, as SWE-bench writes a problem
//! statement. The output is what `[svg] demonstrations` reads: a JSON list of strings (the
//! format of SERA's own pools, so those work too).

use std::collections::HashSet;

use serde_json::Value;

/// Which records [`build`] keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Keep only closed (or merged) issues; records without a `state` are kept either way.
    pub closed_only: bool,
    /// Keep pull requests too (SERA's scraper leaves them out).
    pub include_prs: bool,
    /// Keep only records whose repository or id contains this text, case-insensitively, as
    /// SERA's `pipeline_repo` picks one repository's SWE-bench issues.
    pub repo: Option<String>,
    /// At most this many issues, the first ones in input order.
    pub limit: Option<usize>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions { closed_only: true, include_prs: false, repo: None, limit: None }
    }
}

/// A pool and how it was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoPool {
    /// The issue texts, in input order.
    pub issues: Vec<String>,
    /// Records read.
    pub read: usize,
    /// Left out because they are still open.
    pub open: usize,
    /// Left out because they are pull requests.
    pub pull_requests: usize,
    /// Left out by the repository filter.
    pub other_repos: usize,
    /// Left out because they have no body.
    pub empty: usize,
    /// Left out because the same text came earlier.
    pub duplicates: usize,
    /// Left out by the limit.
    pub over_limit: usize,
}

/// Why a pool could not be built; names the source and line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemoError {
    #[error("{source_name}:{line}: {message}")]
    Record { source_name: String, line: usize, message: String },
    #[error("no issue is left to use as a demonstration: {0}")]
    Empty(String),
}

/// Builds a pool from `sources`, each a name (for errors) and its text: JSON Lines, one JSON
/// list, or several lists one after another (as `gh api --paginate` prints them). Each record
/// is a string, or an object with `problem_statement`, or `title` and `body`, or `text`.
pub fn build(sources: &[(String, String)], options: &DemoOptions) -> Result<DemoPool, DemoError> {
    let mut pool = DemoPool::default();
    let mut seen = HashSet::new();
    let repo = options.repo.as_ref().map(|repo| repo.to_lowercase());
    for (name, text) in sources {
        for (line, record) in records(name, text)? {
            pool.read += 1;
            let fail =
                |message: String| DemoError::Record { source_name: name.clone(), line, message };
            if options.closed_only && is_open(&record) {
                pool.open += 1;
                continue;
            }
            if !options.include_prs && is_pull_request(&record) {
                pool.pull_requests += 1;
                continue;
            }
            if let Some(repo) = &repo {
                if !names_repo(&record, repo) {
                    pool.other_repos += 1;
                    continue;
                }
            }
            let Some(issue) = issue_text(&record).map_err(fail)? else {
                pool.empty += 1;
                continue;
            };
            if !seen.insert(issue.clone()) {
                pool.duplicates += 1;
                continue;
            }
            if options.limit.is_some_and(|limit| pool.issues.len() >= limit) {
                pool.over_limit += 1;
                continue;
            }
            pool.issues.push(issue);
        }
    }
    if pool.issues.is_empty() {
        return Err(DemoError::Empty(pool.summary()));
    }
    Ok(pool)
}

impl DemoPool {
    /// One line on what was kept and why the rest was left out.
    pub fn summary(&self) -> String {
        let mut left_out = Vec::new();
        for (count, why, hint) in [
            (self.open, "still open", " (--state any keeps them)"),
            (self.pull_requests, "pull requests", " (--include-prs keeps them)"),
            (self.other_repos, "from other repositories", ""),
            (self.empty, "without a body", ""),
            (self.duplicates, "duplicates", ""),
            (self.over_limit, "over the limit", ""),
        ] {
            if count > 0 {
                left_out.push(format!("{count} {why}{hint}"));
            }
        }
        let rest = if left_out.is_empty() {
            String::new()
        } else {
            format!("; left out: {}", left_out.join(", "))
        };
        format!("kept {} of {} records{rest}", self.issues.len(), self.read)
    }

    /// The pool as `[svg] demonstrations` reads it: a JSON list of strings, two-space indented
    /// with characters unescaped, as SERA's scraper writes its pools.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.issues)
            .expect("a list of strings always serializes");
        text.push('\n');
        text
    }
}

/// The records of one source with the line each starts on.
fn records(name: &str, text: &str) -> Result<Vec<(usize, Value)>, DemoError> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut out = Vec::new();
    // The line of `counted`, advanced as the stream moves on, so each byte is counted once.
    let (mut line, mut counted) = (1, 0);
    loop {
        let start = stream.byte_offset();
        let start = start + text[start..].len() - text[start..].trim_start().len();
        line += text[counted..start].matches('\n').count();
        counted = start;
        match stream.next() {
            None => break,
            Some(Ok(Value::Array(items))) => out.extend(items.into_iter().map(|item| (line, item))),
            Some(Ok(value)) => out.push((line, value)),
            Some(Err(err)) => {
                return Err(DemoError::Record {
                    source_name: name.to_string(),
                    line: err.line(),
                    message: format!("not JSON: {err}"),
                });
            }
        }
    }
    Ok(out)
}

fn field<'a>(record: &'a Value, key: &str) -> Option<&'a str> {
    record.get(key).and_then(Value::as_str)
}

fn is_open(record: &Value) -> bool {
    field(record, "state").is_some_and(|state| state.eq_ignore_ascii_case("open"))
}

fn is_pull_request(record: &Value) -> bool {
    record.get("pull_request").is_some_and(|pr| !pr.is_null())
        || ["html_url", "url"]
            .iter()
            .any(|key| field(record, key).is_some_and(|url| url.contains("/pull/")))
}

fn names_repo(record: &Value, repo: &str) -> bool {
    ["instance_id", "repo", "repository_url", "html_url", "url"]
        .iter()
        .filter_map(|key| field(record, key))
        .any(|value| value.to_lowercase().contains(repo))
        || record
            .get("repository")
            .and_then(|repository| {
                field(repository, "nameWithOwner").or(field(repository, "full_name"))
            })
            .is_some_and(|value| value.to_lowercase().contains(repo))
}

/// The issue text of a record: `None` when it has no body.
fn issue_text(record: &Value) -> Result<Option<String>, String> {
    let text = match record {
        Value::String(text) => text.clone(),
        Value::Object(object) => {
            if let Some(statement) = field(record, "problem_statement") {
                statement.to_string()
            } else if object.contains_key("title") || object.contains_key("body") {
                let body = field(record, "body").unwrap_or_default();
                if body.trim().is_empty() {
                    return Ok(None);
                }
                format!("{}\n{body}", field(record, "title").unwrap_or_default())
            } else if let Some(text) = field(record, "text") {
                text.to_string()
            } else {
                let keys: Vec<&str> = object.keys().map(String::as_str).take(8).collect();
                return Err(format!(
                    "a record needs `problem_statement`, `title` and `body`, or `text`; this one has {}",
                    if keys.is_empty() { "no fields".to_string() } else { keys.join(", ") }
                ));
            }
        }
        other => {
            return Err(format!("a record is a string or an object, not {}", kind(other)));
        }
    };
    Ok((!text.trim().is_empty()).then_some(text))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Vec<(String, String)> {
        vec![("issues.jsonl".to_string(), text.to_string())]
    }

    #[test]
    fn github_issues_become_swe_bench_style_statements() {
        // GitHub REST /issues rows: closed and open issues, a pull request, an empty body.
        let text = r#"{"number": 4, "title": "Crash on empty input", "body": "Steps:\r\n1. run `tool ''`\r\n", "state": "closed", "html_url": "https://github.com/o/r/issues/4"}
{"number": 5, "title": "Open one", "body": "still broken", "state": "open"}
{"number": 6, "title": "Fix crash", "body": "Fixes #4", "state": "closed", "pull_request": {"url": "x"}}

{"number": 7, "title": "Title only", "body": null, "state": "closed"}
{"number": 8, "title": "Crash on empty input", "body": "Steps:\r\n1. run `tool ''`\r\n", "state": "CLOSED"}
"#;
        let pool = build(&source(text), &DemoOptions::default()).expect("pool");
        assert_eq!(pool.issues, vec!["Crash on empty input\nSteps:\r\n1. run `tool ''`\r\n"]);
        assert_eq!(
            (pool.read, pool.open, pool.pull_requests, pool.empty, pool.duplicates),
            (5, 1, 1, 1, 1)
        );
        assert_eq!(
            pool.summary(),
            "kept 1 of 5 records; left out: 1 still open (--state any keeps them), 1 pull requests \
(--include-prs keeps them), 1 without a body, 1 duplicates"
        );
        let all = DemoOptions { closed_only: false, include_prs: true, ..DemoOptions::default() };
        assert_eq!(build(&source(text), &all).expect("pool").issues.len(), 3);
    }

    #[test]
    fn lists_pages_and_swe_bench_rows_are_read_and_filtered_by_repository() {
        // Two pages as `gh api --paginate` prints them, then SWE-bench rows, then a SERA pool.
        let pages = r#"[{"title": "A", "body": "a", "state": "closed", "url": "https://github.com/o/r/pull/1"}][
 {"title": "B", "body": "b", "state": "closed", "url": "https://github.com/o/r/issues/2"}]"#;
        let rows = "{\"instance_id\": \"django__django-1\", \"problem_statement\": \"D\\n\"}\n\
{\"instance_id\": \"sympy__sympy-2\", \"problem_statement\": \"S\\n\"}\n";
        let sources = vec![
            ("pages.json".to_string(), pages.to_string()),
            ("verified.jsonl".to_string(), rows.to_string()),
            ("sera.json".to_string(), "[\"an issue\", \"\"]".to_string()),
        ];
        let pool = build(&sources, &DemoOptions::default()).expect("pool");
        assert_eq!(pool.issues, vec!["B\nb", "D\n", "S\n", "an issue"]);
        let django = DemoOptions { repo: Some("Django".into()), ..DemoOptions::default() };
        assert_eq!(build(&sources, &django).expect("pool").issues, vec!["D\n"]);
        let two = DemoOptions { limit: Some(2), ..DemoOptions::default() };
        let pool = build(&sources, &two).expect("pool");
        assert_eq!((pool.issues.len(), pool.over_limit), (2, 2));
        let round_trip: Vec<String> = serde_json::from_str(&pool.to_json()).expect("json");
        assert_eq!(round_trip, pool.issues);
        assert!(crate::svg::parse_demonstrations(&pool.to_json()).is_ok());
    }

    #[test]
    fn bad_records_name_their_source_and_line() {
        let err = build(
            &source("{\"title\": \"a\", \"body\": \"b\"}\n{\"title\": oops}\n"),
            &DemoOptions::default(),
        )
        .expect_err("bad JSON");
        assert!(err.to_string().starts_with("issues.jsonl:2: not JSON"), "{err}");
        let err =
            build(&source("\n\n{\"number\": 3}\n"), &DemoOptions::default()).expect_err("no text");
        assert_eq!(
            err.to_string(),
            "issues.jsonl:3: a record needs `problem_statement`, `title` and `body`, or `text`; this one has number"
        );
        let err = build(&source("[1]"), &DemoOptions::default()).expect_err("a number");
        assert_eq!(
            err.to_string(),
            "issues.jsonl:1: a record is a string or an object, not a number"
        );
        let err = build(
            &source("{\"title\": \"a\", \"body\": \"b\", \"state\": \"open\"}"),
            &DemoOptions::default(),
        )
        .expect_err("nothing left");
        assert_eq!(
            err.to_string(),
            "no issue is left to use as a demonstration: kept 0 of 1 records; left out: 1 still open (--state any keeps them)"
        );
    }
}
