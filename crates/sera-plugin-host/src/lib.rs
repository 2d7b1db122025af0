//! Loads sera-rs plugins and adapts them to the rest of the toolkit.
//!
//! Must not know: how to run tests or walk repositories: the pipeline does, and calls in.
//!
//! A plugin is a dynamic library built against `sera-plugin-api` (the interface crate; this
//! crate is the host side of it). [`load_file`] and [`load_dir`] open libraries, check the
//! abi_stable interface version and the root module's layout, then the interface version
//! string, and report every failure with the file at fault. A loaded [`Plugin`] adds its
//! bug classes to a [`sera_taxonomy::Registry`], hands its operators to the mutation engine
//! ([`HostedOperator`], an [`ExternalOperator`]) and its verifiers to the verify stage
//! ([`PluginVerifier`], a [`sera_verify::Verifier`]).
//! It deliberately does not run tests or walk repositories: the pipeline does, and calls in.
//! Libraries are never unloaded (abi_stable leaks them on purpose, so that no pointer into a
//! plugin can dangle).

use std::path::{Path, PathBuf};

use abi_stable::library::{LibraryError, RootModule, lib_header_from_path};
use abi_stable::std_types::{RResult, RStr};
use sera_core::{Entity, Instance, Language, Patch, Verdict};
use sera_mutation::{Edit, ExternalOperator, SourceFile};
use sera_plugin_api::{
    BugClassPluginBox, INTERFACE_VERSION, PluginError, SeraPluginRef, VerifierPluginBox, abi_stable,
};
use sera_taxonomy::{ClassSpec, Registry, RegistryError};

/// The file-name extension of a dynamic library on this platform (`so`, `dylib`, `dll`).
pub const LIBRARY_EXTENSION: &str = std::env::consts::DLL_EXTENSION;

/// Why a plugin could not be loaded. Every message names the file or directory at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("plugin directory {} does not exist", path.display())]
    MissingDir { path: PathBuf },
    #[error("cannot read plugin directory {}: {source}", path.display())]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plugin file {} does not exist", path.display())]
    MissingFile { path: PathBuf },
    #[error("{} cannot be opened as a dynamic library: {detail}", path.display())]
    Open { path: PathBuf, detail: String },
    #[error(
        "{} is not a sera plugin: it exports no abi_stable root module ({detail})",
        path.display()
    )]
    NotAPlugin { path: PathBuf, detail: String },
    #[error(
        "{} was built against sera plugin interface {found}, but this sera speaks {expected}; \
         rebuild the plugin against sera-plugin-api {expected}",
        path.display()
    )]
    IncompatibleVersion { path: PathBuf, expected: String, found: String },
    #[error(
        "{} has an incompatible plugin interface layout (built against a different \
         sera-plugin-api or abi_stable): {detail}",
        path.display()
    )]
    IncompatibleLayout { path: PathBuf, detail: String },
    #[error("{} failed to initialise: {detail}", path.display())]
    Init { path: PathBuf, detail: String },
}

/// Why a call into a loaded plugin failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    #[error("plugin `{plugin}`: {error}")]
    Plugin { plugin: String, error: PluginError },
    #[error(
        "plugin `{plugin}`, operator `{operator}`: edit {start}..{end} is not a character \
         range inside the entity's bytes {span_start}..{span_end} of {file}"
    )]
    EditOutOfRange {
        plugin: String,
        operator: String,
        file: String,
        start: u64,
        end: u64,
        span_start: usize,
        span_end: usize,
    },
    #[error("plugin `{plugin}`: {source}")]
    Registry {
        plugin: String,
        #[source]
        source: RegistryError,
    },
    #[error("plugin `{plugin}`, verifier `{verifier}`: score {score} is not in [0, 1]")]
    BadScore { plugin: String, verifier: String, score: f64 },
    #[error("cannot serialize instance {id} for plugin `{plugin}`: {detail}")]
    Serialize { plugin: String, id: String, detail: String },
}

/// A loaded plugin library.
pub struct Plugin {
    pub name: String,
    pub path: PathBuf,
    /// The interface version the plugin reports, equal to [`INTERFACE_VERSION`].
    pub interface_version: String,
    bug_classes: Vec<BugClassPluginBox>,
    verifiers: Vec<PluginVerifier>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("bug_classes", &self.bug_classes.len())
            .field("verifiers", &self.verifiers.len())
            .finish()
    }
}

/// A mutation operator of a loaded plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginOperator {
    pub slug: String,
    pub classes: Vec<String>,
    /// Which of the plugin's bug-class objects provides it.
    object: usize,
}

/// Loads the plugin at `path`, checking its interface version and layout.
pub fn load_file(path: &Path) -> Result<Plugin, LoadError> {
    if !path.is_file() {
        return Err(LoadError::MissingFile { path: path.to_path_buf() });
    }
    // `lib_header_from_path` (not `RootModule::load_from_file`) because the latter caches one
    // library per root-module type for the whole process, and a host loads many plugins.
    let header = lib_header_from_path(path).map_err(|e| load_error(path, e))?;
    let module: SeraPluginRef =
        header.init_root_module::<SeraPluginRef>().map_err(|e| load_error(path, e))?;
    let interface_version = (module.interface_version())().as_str().to_string();
    if interface_version != INTERFACE_VERSION {
        return Err(LoadError::IncompatibleVersion {
            path: path.to_path_buf(),
            expected: INTERFACE_VERSION.to_string(),
            found: interface_version,
        });
    }
    let name = (module.name())().as_str().to_string();
    let init = |error: PluginError| LoadError::Init {
        path: path.to_path_buf(),
        detail: format!("plugin `{name}`: {error}"),
    };
    let bug_classes = (module.bug_classes())().into_result().map_err(init)?.into_vec();
    let verifiers = (module.verifiers())()
        .into_result()
        .map_err(init)?
        .into_iter()
        .map(|inner| PluginVerifier {
            plugin: name.clone(),
            name: inner.name().into_string(),
            inner,
        })
        .collect();
    Ok(Plugin { name, path: path.to_path_buf(), interface_version, bug_classes, verifiers })
}

/// The dynamic libraries in `dir` (by [`LIBRARY_EXTENSION`]), sorted by file name so that
/// load order, and with it the indices of plugin bug classes, is reproducible.
pub fn library_paths(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::MissingDir { path: dir.to_path_buf() });
    }
    let read_err = |source| LoadError::ReadDir { path: dir.to_path_buf(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == LIBRARY_EXTENSION) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Loads every plugin in `dir`; the first library that fails to load fails the whole load,
/// because a run that silently drops a plugin would produce different data.
pub fn load_dir(dir: &Path) -> Result<Vec<Plugin>, LoadError> {
    library_paths(dir)?.iter().map(|path| load_file(path)).collect()
}

/// Adds every loaded plugin's bug classes to `registry`, in load order.
pub fn register_all(plugins: &[Plugin], registry: &mut Registry) -> Result<(), CallError> {
    for plugin in plugins {
        plugin.register_classes(registry)?;
    }
    Ok(())
}

impl Plugin {
    /// The bug classes the plugin adds, as taxonomy specs with the plugin as their origin.
    pub fn class_specs(&self) -> Result<Vec<ClassSpec>, CallError> {
        let mut specs = Vec::new();
        for object in &self.bug_classes {
            for entry in self.call(object.classes())? {
                specs.push(ClassSpec {
                    slug: entry.slug.into_string(),
                    name: entry.name.into_string(),
                    area: entry.area.into_string(),
                    description: entry.description.into_string(),
                    template: entry.template.into_string(),
                    origin: format!("plugin {}", self.name),
                });
            }
        }
        Ok(specs)
    }

    /// Adds the plugin's bug classes to `registry` and returns their indices. A duplicate or
    /// malformed class is an error naming the plugin; classes before it stay registered.
    pub fn register_classes(&self, registry: &mut Registry) -> Result<Vec<usize>, CallError> {
        self.class_specs()?
            .into_iter()
            .map(|spec| {
                registry
                    .register(spec)
                    .map_err(|source| CallError::Registry { plugin: self.name.clone(), source })
            })
            .collect()
    }

    /// The plugin's mutation operators.
    pub fn operators(&self) -> Result<Vec<PluginOperator>, CallError> {
        let mut operators = Vec::new();
        for (object, plugin) in self.bug_classes.iter().enumerate() {
            for entry in self.call(plugin.operators())? {
                operators.push(PluginOperator {
                    slug: entry.slug.into_string(),
                    classes: entry.classes.into_iter().map(|c| c.into_string()).collect(),
                    object,
                });
            }
        }
        Ok(operators)
    }

    /// The plugin's verifiers.
    pub fn verifiers(&self) -> &[PluginVerifier] {
        &self.verifiers
    }

    /// The raw edits `operator` proposes for `entity` in `source`, checked to lie inside the
    /// entity on character boundaries.
    pub fn edits(
        &self,
        operator: &PluginOperator,
        source: &SourceText<'_>,
        entity: &Entity,
    ) -> Result<Vec<sera_plugin_api::Edit>, CallError> {
        let object = &self.bug_classes[operator.object];
        let span = entity.bytes;
        let edits = self.call(object.mutate(
            RStr::from_str(&operator.slug),
            RStr::from_str(source.text),
            RStr::from_str(source.language.name()),
            span.start as u64,
            span.end as u64,
        ))?;
        for edit in &edits {
            let in_range = usize::try_from(edit.start).ok().zip(usize::try_from(edit.end).ok());
            let ok = in_range.is_some_and(|(start, end)| {
                span.start <= start
                    && start <= end
                    && end <= span.end
                    && source.text.is_char_boundary(start)
                    && source.text.is_char_boundary(end)
            });
            if !ok {
                return Err(CallError::EditOutOfRange {
                    plugin: self.name.clone(),
                    operator: operator.slug.clone(),
                    file: source.path.to_string(),
                    start: edit.start,
                    end: edit.end,
                    span_start: span.start,
                    span_end: span.end,
                });
            }
        }
        Ok(edits.into_vec())
    }

    /// The plugin's operators bound to it, as the mutation engine takes them
    /// ([`sera_mutation::mutate_with`]): their edits then go through the same sampling,
    /// re-parse check and dedup as built-in operators', and get the same id scheme.
    pub fn mutation_operators(&self) -> Result<Vec<HostedOperator<'_>>, CallError> {
        Ok(self
            .operators()?
            .into_iter()
            .map(|operator| HostedOperator { plugin: self, operator })
            .collect())
    }

    fn call<T>(&self, result: RResult<T, PluginError>) -> Result<T, CallError> {
        result.into_result().map_err(|error| CallError::Plugin { plugin: self.name.clone(), error })
    }
}

/// Every operator of every plugin, in load order, for [`sera_mutation::mutate_with`].
pub fn mutation_operators(plugins: &[Plugin]) -> Result<Vec<HostedOperator<'_>>, CallError> {
    let mut all = Vec::new();
    for plugin in plugins {
        all.extend(plugin.mutation_operators()?);
    }
    Ok(all)
}

/// A plugin operator bound to its plugin: the mutation engine's view of it.
#[derive(Debug)]
pub struct HostedOperator<'p> {
    plugin: &'p Plugin,
    operator: PluginOperator,
}

impl HostedOperator<'_> {
    /// The name of the plugin the operator comes from.
    pub fn plugin(&self) -> &str {
        &self.plugin.name
    }
}

impl ExternalOperator for HostedOperator<'_> {
    fn slug(&self) -> &str {
        &self.operator.slug
    }

    fn classes(&self) -> &[String] {
        &self.operator.classes
    }

    fn edits(&self, file: &SourceFile, entity: &Entity) -> Result<Vec<Edit>, String> {
        let source = SourceText { path: &file.path, language: file.language, text: &file.text };
        let edits =
            self.plugin.edits(&self.operator, &source, entity).map_err(|e| e.to_string())?;
        // `edits` checked both offsets against the text's length.
        Ok(edits
            .into_iter()
            .map(|edit| Edit {
                start: edit.start as usize,
                end: edit.end as usize,
                replacement: edit.replacement.into_string(),
                description: edit.description.into_string(),
            })
            .collect())
    }
}

/// One source file as an operator sees it.
#[derive(Debug, Clone, Copy)]
pub struct SourceText<'a> {
    /// Repository-relative, `/`-separated, as in [`Entity::file`].
    pub path: &'a str,
    pub language: Language,
    pub text: &'a str,
}

/// A verifier of a loaded plugin.
pub struct PluginVerifier {
    pub plugin: String,
    pub name: String,
    inner: VerifierPluginBox,
}

impl std::fmt::Debug for PluginVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginVerifier")
            .field("plugin", &self.plugin)
            .field("name", &self.name)
            .finish()
    }
}

impl PluginVerifier {
    /// Judges `patch` for `instance`, given the test results (`None` when no tests ran).
    pub fn verify(
        &self,
        instance: &Instance,
        patch: &Patch,
        tests: Option<&serde_json::Value>,
    ) -> Result<Verdict, CallError> {
        let instance_json = serde_json::to_string(instance).map_err(|e| CallError::Serialize {
            plugin: self.plugin.clone(),
            id: instance.id.clone(),
            detail: e.to_string(),
        })?;
        let tests_json = tests.map_or_else(|| "null".to_string(), serde_json::Value::to_string);
        self.verify_raw(&instance.id, &instance_json, &patch.render(), &tests_json)
    }

    /// [`PluginVerifier::verify`] on text already serialized, for callers that hold JSON.
    pub fn verify_raw(
        &self,
        instance_id: &str,
        instance_json: &str,
        patch: &str,
        tests_json: &str,
    ) -> Result<Verdict, CallError> {
        let out = self
            .inner
            .verify(
                RStr::from_str(instance_json),
                RStr::from_str(patch),
                RStr::from_str(tests_json),
            )
            .into_result()
            .map_err(|error| CallError::Plugin { plugin: self.plugin.clone(), error })?;
        let score = out.score.into_option();
        if let Some(score) = score.filter(|s| !(0.0..=1.0).contains(s)) {
            return Err(CallError::BadScore {
                plugin: self.plugin.clone(),
                verifier: self.name.clone(),
                score,
            });
        }
        Ok(Verdict {
            instance_id: instance_id.to_string(),
            trajectory_id: None,
            verifier: self.name.clone(),
            accepted: out.accepted,
            score,
            reason: out.reason.into_string(),
        })
    }
}

/// A plugin verifier as one of a pipeline's judges. Its test results are
/// `{"resolved": true|false|null, "recall": number|null}`; an error or a panic in the plugin is
/// an error naming the plugin.
impl sera_verify::Verifier for PluginVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn verify(&self, candidate: &sera_verify::Candidate<'_>) -> Result<Verdict, String> {
        let tests =
            serde_json::json!({ "resolved": candidate.resolved, "recall": candidate.recall });
        let mut verdict =
            PluginVerifier::verify(self, candidate.instance, candidate.patch, Some(&tests))
                .map_err(|e| e.to_string())?;
        verdict.trajectory_id = candidate.trajectory_id.map(str::to_string);
        Ok(verdict)
    }
}

/// Translates abi_stable's load errors into messages about sera plugins.
fn load_error(path: &Path, error: LibraryError) -> LoadError {
    let path = path.to_path_buf();
    match error {
        LibraryError::OpenError { err, .. } => LoadError::Open { path, detail: err.to_string() },
        LibraryError::GetSymbolError { err, .. } => {
            LoadError::NotAPlugin { path, detail: err.to_string() }
        }
        LibraryError::IncompatibleVersionNumber { expected_version, actual_version, .. } => {
            LoadError::IncompatibleVersion {
                path,
                expected: format!("{} ({expected_version})", INTERFACE_VERSION),
                found: actual_version.to_string(),
            }
        }
        LibraryError::AbiInstability(detail) => {
            LoadError::IncompatibleLayout { path, detail: detail.to_string() }
        }
        LibraryError::InvalidAbiHeader(header) => LoadError::IncompatibleLayout {
            path,
            detail: format!("the library uses abi_stable header {header:?}"),
        },
        LibraryError::RootModule { err, .. } => LoadError::Init { path, detail: err.to_string() },
        other => LoadError::Init { path, detail: other.to_string() },
    }
}

/// The interface's abi_stable version strings, for messages and `sera plugins list`.
pub fn interface_crate_version() -> String {
    SeraPluginRef::VERSION_STRINGS.version.to_string()
}
