//! Python: one virtual environment per repository, with the project and its test dependencies
//! installed as the repository's own files declare them.
//!
//! The project is installed as a regular (not editable) package: an editable install would
//! point at the environment stage's own scratch copy, which is gone by the time the tests run.
//! Later sandboxes put their own copy first on `PYTHONPATH` instead, so the tests import the
//! code being changed, and the installed copy provides only what the sources cannot: the
//! dependencies, entry points and package metadata.

use std::path::{Path, PathBuf};

use sera_sandbox::CommandSpec;

use crate::{EnvConfig, EnvError, StepRunner};

/// Extras and dependency groups that hold test requirements, most specific first; `dev` only
/// when none of the others exists, since it often pulls in linters and documentation tools.
const TEST_NAMES: &[&str] = &["test", "tests", "testing"];
const DEV_NAMES: &[&str] = &["dev", "develop", "development"];

/// What a Python repository needs.
pub(crate) struct PythonPlan {
    /// The interpreter that makes the virtual environment.
    python: String,
    /// What `pip install` installs of the project itself (`.`, `.[test]`); `None` when the
    /// repository is not an installable project.
    project: Option<String>,
    /// Requirement files to install (`-r`), relative to the repository.
    requirement_files: Vec<String>,
    /// Requirement specifiers (`pytest-mock>=3`) from dependency groups, tox and nox.
    specs: Vec<String>,
    /// Where the sources are imported from, relative to the repository: `src` or `.`.
    pub(crate) import_roots: Vec<PathBuf>,
}

impl PythonPlan {
    pub(crate) fn detect(repo: &Path, config: &EnvConfig) -> Result<Option<PythonPlan>, EnvError> {
        let has = |name: &str| repo.join(name).is_file();
        let pyproject = read_toml(&repo.join("pyproject.toml"))?;
        let project_files = has("pyproject.toml") || has("setup.py") || has("setup.cfg");
        let loose = !has("Cargo.toml") && (has_requirements(repo) || has_python_tests(repo));
        if !project_files && !loose {
            return Ok(None);
        }
        let installable = has("setup.py")
            || has("setup.cfg")
            || pyproject
                .as_ref()
                .is_some_and(|t| t.contains_key("build-system") || t.contains_key("project"));

        let extras = choose(&extras(repo, pyproject.as_ref()));
        let project = installable.then(|| {
            if extras.is_empty() { ".".to_string() } else { format!(".[{}]", extras.join(",")) }
        });
        let mut requirement_files = test_requirement_files(repo);
        if !installable && has("requirements.txt") {
            requirement_files.insert(0, "requirements.txt".to_string());
        }
        let mut specs = Vec::new();
        if let Some(table) = &pyproject {
            specs.extend(dependency_group_specs(table));
            specs.extend(poetry_group_names(table));
        }
        let (tox_specs, tox_files) = tox_deps(repo);
        specs.extend(tox_specs);
        requirement_files.extend(tox_files);
        specs.extend(pytest_plugins(repo, pyproject.as_ref()));
        let (nox_specs, nox_files) = nox_installs(repo);
        specs.extend(nox_specs);
        requirement_files.extend(nox_files);
        dedup(&mut specs);
        dedup(&mut requirement_files);
        requirement_files.retain(|file| repo.join(file).is_file());

        let import_roots = if is_src_layout(repo) { vec!["src".into()] } else { vec![".".into()] };
        Ok(Some(PythonPlan {
            python: config.python.clone().unwrap_or_else(|| "python3".to_string()),
            project,
            requirement_files,
            specs,
            import_roots,
        }))
    }

    /// Everything the plan decided, for the cache key.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{}|{:?}|{:?}|{:?}|{:?}",
            self.python, self.project, self.requirement_files, self.specs, self.import_roots
        )
    }

    /// Makes the virtual environment at `venv` and installs into it; returns `venv`.
    pub(crate) fn run(
        &self,
        runner: &mut StepRunner<'_>,
        venv: &Path,
    ) -> Result<PathBuf, EnvError> {
        let offline = runner.config.offline;
        let mut make = CommandSpec::new(self.python.clone()).args(["-m", "venv"]);
        if offline {
            // Offline, the interpreter's own packages (pytest, setuptools) are all there is.
            make = make.arg("--system-site-packages");
        }
        runner.step(
            "virtual environment",
            make.arg(venv.display().to_string()),
            "set `[env] python` to an interpreter that has the venv module (Debian: \
             `apt-get install python3-venv`)",
        )?;
        let python = venv.join("bin/python").display().to_string();
        let pip = |runner: &StepRunner<'_>| {
            let mut spec = CommandSpec::new(python.clone()).args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
            ]);
            if offline {
                spec = spec.args(["--no-index", "--no-build-isolation"]);
            }
            spec.args(runner.config.pip_args.iter().cloned())
        };
        if let Some(project) = &self.project {
            let spec = pip(runner).arg(project.clone());
            runner.step(
                "install the project",
                spec,
                "if the project cannot be installed this way, set `[env] detect = false` and \
                 install what its tests need with `[env] setup` commands",
            )?;
        }
        if !self.requirement_files.is_empty() || !self.specs.is_empty() {
            let mut spec = pip(runner);
            for file in &self.requirement_files {
                spec = spec.arg("-r").arg(file.clone());
            }
            let spec = spec.args(self.specs.iter().cloned());
            runner.step(
                "install test dependencies",
                spec,
                "these were read from the repository's requirement files, dependency groups, \
                 tox.ini and noxfile.py; to choose them yourself set `[env] detect = false` \
                 and list the installs in `[env] setup`",
            )?;
        }
        let probe = CommandSpec::new(python.clone()).args(["-c", "import pytest"]);
        if !runner.probe(probe)?.success() {
            runner.step(
                "install pytest",
                pip(runner).arg("pytest"),
                "pytest runs the tests; make it installable (`[env] pip_args`) or install it in \
                 `[env] setup`",
            )?;
        }
        Ok(venv.to_path_buf())
    }
}

fn read_toml(path: &Path) -> Result<Option<toml::Table>, EnvError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.parse::<toml::Table>().map(Some).map_err(|err| EnvError::Manifest {
            file: path.to_path_buf(),
            message: err.to_string(),
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(EnvError::Io { path: path.to_path_buf(), source: err }),
    }
}

/// Test names if any exists, else dev names, keeping the repository's own order.
fn choose(names: &[String]) -> Vec<String> {
    let pick = |wanted: &[&str]| -> Vec<String> {
        names.iter().filter(|n| wanted.contains(&n.to_lowercase().as_str())).cloned().collect()
    };
    let tests = pick(TEST_NAMES);
    if tests.is_empty() { pick(DEV_NAMES) } else { tests }
}

/// The extras the project declares: `[project.optional-dependencies]`, setup.cfg's
/// `[options.extras_require]`, and (read, not run) setup.py's `extras_require` keys.
fn extras(repo: &Path, pyproject: Option<&toml::Table>) -> Vec<String> {
    let mut names: Vec<String> = pyproject
        .and_then(|t| t.get("project"))
        .and_then(|p| p.get("optional-dependencies"))
        .and_then(|o| o.as_table())
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    if let Ok(text) = std::fs::read_to_string(repo.join("setup.cfg")) {
        names.extend(ini_section(&text, "options.extras_require").into_iter().map(|(k, _)| k));
    }
    if let Ok(text) = std::fs::read_to_string(repo.join("setup.py")) {
        if let Some(at) = text.find("extras_require") {
            let rest = &text[at..];
            for name in TEST_NAMES.iter().chain(DEV_NAMES) {
                let quoted = [format!("\"{name}\""), format!("'{name}'")];
                if quoted.iter().any(|q| rest.contains(q.as_str())) {
                    names.push(name.to_string());
                }
            }
        }
    }
    dedup(&mut names);
    names
}

/// PEP 735 `[dependency-groups]`: the test groups (or dev), with `{include-group = ...}`
/// entries followed.
fn dependency_group_specs(table: &toml::Table) -> Vec<String> {
    let Some(groups) = table.get("dependency-groups").and_then(|g| g.as_table()) else {
        return Vec::new();
    };
    let names: Vec<String> = groups.keys().cloned().collect();
    let mut specs = Vec::new();
    for name in choose(&names) {
        collect_group(groups, &name, &mut specs, 0);
    }
    specs
}

fn collect_group(groups: &toml::Table, name: &str, specs: &mut Vec<String>, depth: usize) {
    let Some(entries) = groups.get(name).and_then(|g| g.as_array()) else { return };
    for entry in entries {
        match entry {
            toml::Value::String(spec) => specs.push(spec.clone()),
            toml::Value::Table(include) if depth < 8 => {
                if let Some(other) = include.get("include-group").and_then(|v| v.as_str()) {
                    collect_group(groups, other, specs, depth + 1);
                }
            }
            _ => {}
        }
    }
}

/// Poetry's test groups (`[tool.poetry.group.test.dependencies]`, or the old
/// `dev-dependencies`): the package names only, since Poetry's version syntax (`^7.0`) is not
/// pip's.
fn poetry_group_names(table: &toml::Table) -> Vec<String> {
    let Some(poetry) = table.get("tool").and_then(|t| t.get("poetry")) else { return Vec::new() };
    let groups: Vec<String> = poetry
        .get("group")
        .and_then(|g| g.as_table())
        .map(|g| g.keys().cloned().collect())
        .unwrap_or_default();
    let mut tables: Vec<&toml::Value> = choose(&groups)
        .iter()
        .filter_map(|name| poetry.get("group")?.get(name)?.get("dependencies"))
        .collect();
    if tables.is_empty() {
        tables.extend(poetry.get("dev-dependencies"));
    }
    tables
        .into_iter()
        .filter_map(|t| t.as_table())
        .flat_map(|t| t.keys().cloned())
        .filter(|name| name != "python")
        .collect()
}

/// Requirement files for tests: at the top and under `requirements/`, those whose name says
/// test (or, when none does, dev).
fn test_requirement_files(repo: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for (dir, prefix) in [(repo.to_path_buf(), ""), (repo.join("requirements"), "requirements/")] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let requirement = name.ends_with(".txt")
                && (prefix == "requirements/" || name.contains("requirements"));
            if requirement && entry.path().is_file() {
                files.push(format!("{prefix}{name}"));
            }
        }
    }
    files.sort();
    let says = |words: &[&str]| -> Vec<String> {
        files
            .iter()
            .filter(|f| {
                let stem = f.rsplit('/').next().unwrap_or(f).to_lowercase();
                words.iter().any(|w| stem.contains(w))
            })
            .cloned()
            .collect()
    };
    let tests = says(&["test"]);
    if tests.is_empty() { says(&["dev"]) } else { tests }
}

/// tox.ini's `[testenv] deps`: specifiers and `-r` files (factor conditions dropped,
/// `{toxinidir}/` read as the repository; other substitutions skipped).
fn tox_deps(repo: &Path) -> (Vec<String>, Vec<String>) {
    let Ok(text) = std::fs::read_to_string(repo.join("tox.ini")) else {
        return (Vec::new(), Vec::new());
    };
    let Some((_, deps)) = ini_section(&text, "testenv").into_iter().find(|(k, _)| k == "deps")
    else {
        return (Vec::new(), Vec::new());
    };
    let mut specs = Vec::new();
    let mut files = Vec::new();
    for line in deps.lines() {
        let line = line.trim().replace("{toxinidir}/", "");
        // `py38,py39: mock` applies to some factors only: take the requirement.
        let line = match line.split_once(": ") {
            Some((factors, rest))
                if factors.chars().all(|c| c.is_alphanumeric() || ",-_".contains(c)) =>
            {
                rest.trim().to_string()
            }
            _ => line,
        };
        if line.is_empty() || line.starts_with('#') || line.contains('{') {
            continue;
        }
        if let Some(file) = line.strip_prefix("-r") {
            files.push(file.trim().to_string());
        } else if !line.starts_with('-') && line != "." {
            specs.push(line);
        }
    }
    (specs, files)
}

/// `session.install(...)` in noxfile.py sessions whose name says test: the string literals,
/// as specifiers, with `-r FILE` as files and the project itself (`.`, `-e .`) left out.
fn nox_installs(repo: &Path) -> (Vec<String>, Vec<String>) {
    let Ok(text) = std::fs::read_to_string(repo.join("noxfile.py")) else {
        return (Vec::new(), Vec::new());
    };
    let mut specs = Vec::new();
    let mut files = Vec::new();
    let mut in_test_session = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with('\t') && !line.trim().is_empty() {
            in_test_session = line.starts_with("def ")
                && line.split('(').next().is_some_and(|head| head.contains("test"));
        }
        if !in_test_session {
            continue;
        }
        let Some(at) = line.find("session.install(") else { continue };
        let literals = string_literals(&line[at..]);
        let mut words = literals.iter();
        while let Some(word) = words.next() {
            match word.as_str() {
                "-r" => files.extend(words.next().cloned()),
                "-e" => {
                    words.next();
                }
                w if w.starts_with('.') || w.starts_with('-') => {}
                w => specs.push(w.to_string()),
            }
        }
    }
    (specs, files)
}

/// The pytest plugins the repository's pytest configuration cannot run without: those it lists
/// in `required_plugins`, and those its options belong to (`--cov` to pytest-cov, `-n` to
/// pytest-xdist, `--timeout` to pytest-timeout, `asyncio_mode` to pytest-asyncio). A suite whose
/// `addopts` name an option no installed plugin knows does not even start.
fn pytest_plugins(repo: &Path, pyproject: Option<&toml::Table>) -> Vec<String> {
    let mut settings: Vec<(String, String)> = Vec::new();
    if let Some(options) = pyproject
        .and_then(|t| t.get("tool"))
        .and_then(|t| t.get("pytest"))
        .and_then(|t| t.get("ini_options"))
        .and_then(|t| t.as_table())
    {
        for (key, value) in options {
            let text = match value {
                toml::Value::String(text) => text.clone(),
                toml::Value::Array(items) => {
                    items.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>().join(" ")
                }
                other => other.to_string(),
            };
            settings.push((key.clone(), text));
        }
    }
    for (file, section) in
        [("pytest.ini", "pytest"), ("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")]
    {
        if let Ok(text) = std::fs::read_to_string(repo.join(file)) {
            settings.extend(ini_section(&text, section));
        }
    }
    let mut plugins = Vec::new();
    for (key, value) in &settings {
        match key.as_str() {
            "required_plugins" => plugins.extend(value.split_whitespace().map(str::to_string)),
            "asyncio_mode" => plugins.push("pytest-asyncio".to_string()),
            "addopts" => {
                let words: Vec<&str> = value.split_whitespace().collect();
                let uses = |flag: &str| {
                    words.iter().any(|w| *w == flag || w.starts_with(&format!("{flag}=")))
                };
                if uses("--cov") || words.iter().any(|w| w.starts_with("--cov-")) {
                    plugins.push("pytest-cov".to_string());
                }
                if uses("-n") || uses("--numprocesses") || uses("--dist") {
                    plugins.push("pytest-xdist".to_string());
                }
                if uses("--timeout") {
                    plugins.push("pytest-timeout".to_string());
                }
            }
            _ => {}
        }
    }
    plugins
}

/// The single- and double-quoted literals of one line of Python, in order.
fn string_literals(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            let literal: String = chars.by_ref().take_while(|&d| d != c).collect();
            out.push(literal);
        } else if c == ')' {
            break;
        }
    }
    out
}

/// The `key = value` pairs of one section of an INI file, with indented continuation lines
/// joined to their value by newlines.
fn ini_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            inside = trimmed[1..trimmed.len() - 1].trim() == section;
            continue;
        }
        if !inside || trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = pairs.last_mut() {
                value.push('\n');
                value.push_str(trimmed);
            }
        } else if let Some((key, value)) = trimmed.split_once('=') {
            pairs.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    pairs
}

fn has_requirements(repo: &Path) -> bool {
    std::fs::read_dir(repo).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".txt") && name.contains("requirements")
        })
    })
}

/// Test files pytest would collect at the top or in `tests/`/`test/`, or its configuration.
fn has_python_tests(repo: &Path) -> bool {
    let test_file = |dir: &Path| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
            })
        })
    };
    repo.join("conftest.py").is_file()
        || repo.join("pytest.ini").is_file()
        || test_file(repo)
        || test_file(&repo.join("tests"))
        || test_file(&repo.join("test"))
}

/// A `src/` layout: `src/` holds a package (a folder with `__init__.py`) or a module.
fn is_src_layout(repo: &Path) -> bool {
    std::fs::read_dir(repo.join("src")).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let path = e.path();
            path.join("__init__.py").is_file()
                || (path.is_file() && path.extension().is_some_and(|x| x == "py"))
        })
    })
}

fn dedup(items: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    items.retain(|item| seen.insert(item.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    fn plan(files: &[(&str, &str)]) -> Option<PythonPlan> {
        let dir = repo(files);
        PythonPlan::detect(dir.path(), &EnvConfig::new("/nonexistent")).expect("detects")
    }

    #[test]
    fn a_src_layout_project_installs_with_its_test_extra() {
        let plan = plan(&[
            (
                "pyproject.toml",
                "[project]\nname = \"p\"\n[project.optional-dependencies]\ndocs = [\"sphinx\"]\n\
                 tests = [\"hypothesis\"]\ndev = [\"black\"]\n",
            ),
            ("src/p/__init__.py", ""),
        ])
        .expect("python");
        assert_eq!(plan.project.as_deref(), Some(".[tests]"));
        assert_eq!(plan.import_roots, [PathBuf::from("src")]);
    }

    #[test]
    fn dev_extras_are_the_fallback_and_setup_cfg_counts() {
        let plan = plan(&[
            ("setup.cfg", "[metadata]\nname = p\n[options.extras_require]\ndev =\n    pytest\n"),
            ("p/__init__.py", ""),
        ])
        .expect("python");
        assert_eq!(plan.project.as_deref(), Some(".[dev]"));
        assert_eq!(plan.import_roots, [PathBuf::from(".")]);
    }

    #[test]
    fn groups_requirement_files_tox_and_nox_are_read() {
        let plan = plan(&[
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"hatchling\"]\n[dependency-groups]\n\
                 lint = [\"ruff\"]\ntest = [\"pytest-mock\", {include-group = \"cov\"}]\n\
                 cov = [\"coverage\"]\n",
            ),
            ("requirements-test.txt", "pytest\n"),
            ("requirements.txt", "requests\n"),
            ("requirements/docs.txt", "sphinx\n"),
            (
                "tox.ini",
                "[tox]\nenvlist = py\n[testenv]\ndeps =\n    pytest-xdist\n    py38: mock\n    \
                 -r{toxinidir}/requirements-test.txt\n    {[base]deps}\ncommands = pytest\n",
            ),
            (
                "noxfile.py",
                "import nox\n\n@nox.session\ndef tests(session):\n    session.install(\"-e\", \".\")\n    \
                 session.install(\"freezegun\", \"-r\", \"requirements-test.txt\")\n\n\
                 @nox.session\ndef lint(session):\n    session.install(\"flake8\")\n",
            ),
        ])
        .expect("python");
        assert_eq!(plan.project.as_deref(), Some("."));
        assert_eq!(plan.requirement_files, ["requirements-test.txt"]);
        assert_eq!(plan.specs, ["pytest-mock", "coverage", "pytest-xdist", "mock", "freezegun"]);
    }

    #[test]
    fn loose_scripts_with_tests_at_the_top_are_python_but_not_installable() {
        let plan = plan(&[("six.py", ""), ("test_six.py", ""), ("requirements.txt", "x\n")])
            .expect("python");
        assert_eq!(plan.project, None);
        assert_eq!(plan.requirement_files, ["requirements.txt"]);
        // A Rust crate with a stray requirements file is not a Python project.
        assert!(super::tests::plan(&[("Cargo.toml", ""), ("requirements.txt", "x\n")]).is_none());
    }

    #[test]
    fn pytest_options_bring_the_plugins_they_belong_to() {
        let plan = plan(&[
            (
                "pyproject.toml",
                "[project]\nname = \"p\"\n[tool.pytest.ini_options]\n\
                 addopts = \"-ra --cov=p -n auto\"\nasyncio_mode = \"auto\"\n",
            ),
            ("pytest.ini", "[pytest]\nrequired_plugins = pytest-mock>=3 pytest-env\n"),
        ])
        .expect("python");
        assert_eq!(
            plan.specs,
            ["pytest-cov", "pytest-xdist", "pytest-asyncio", "pytest-mock>=3", "pytest-env"]
        );
    }

    #[test]
    fn poetry_groups_give_package_names() {
        let plan = plan(&[(
            "pyproject.toml",
            "[tool.poetry]\nname = \"p\"\n[tool.poetry.group.test.dependencies]\npytest = \"^7\"\n\
             pytest-asyncio = {version = \"^0.21\"}\n[build-system]\nrequires = [\"poetry-core\"]\n",
        )])
        .expect("python");
        assert_eq!(plan.specs, ["pytest", "pytest-asyncio"]);
    }
}
