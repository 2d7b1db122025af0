//! The plugin interface of sera-rs: the one crate that the host and every plugin share.
//!
//! Must not know: the host's Rust types: only FFI-safe abi_stable types cross it.
//!
//! It holds FFI-safe types only (built on `abi_stable`): the root module [`SeraPlugin`] that a
//! plugin library exports, the [`BugClassPlugin`] and [`VerifierPlugin`] traits, their plain
//! data ([`ClassEntry`], [`Edit`], [`VerdictOut`]) and [`PluginError`]. It deliberately knows
//! nothing about sera's records, taxonomy or mutation engine: `sera-plugin-host` loads plugins
//! and adapts them into those. Plugin authors implement the plain-Rust traits [`BugClass`] and
//! [`Verifier`] and wrap them with [`bug_class_plugin`] and [`verifier_plugin`], which catch
//! panics inside the plugin so that a panic comes back to the host as an error value.
//!
//! # Evolving the interface (append-only)
//!
//! The root module is a prefix type (`#[sabi(kind(Prefix))]`): a host can load a plugin built
//! against an older interface of the same compatible version as long as fields were only ever
//! appended. The rules:
//!
//! - Never remove, rename, reorder or retype a field of [`SeraPlugin`] or any exported type.
//! - Add new root-module fields only after the field marked `#[sabi(last_prefix_field)]`
//!   (`verifiers`, the last field of the first version), each marked
//!   `#[sabi(missing_field(option))]` so that its accessor returns `None` for an older plugin
//!   (the struct-wide default here is `panic`, which suits only the first version's fields).
//! - Add trait methods only at the end of a `#[sabi_trait]`, with a default body, and only
//!   after marking the last method of the current version `#[sabi(last_prefix_field)]`.
//! - Anything else (a changed struct, a removed method) is a breaking change: bump the
//!   crate's minor version while it is 0.x (abi_stable then rejects plugins built against the
//!   old one at load time) and change [`INTERFACE_VERSION`].

// `#[sabi_trait]` (abi_stable 0.11) expands to impls inside a generated const, which rustc
// now lints; the expansion is the crate's documented way to declare a trait object.
#![allow(non_local_definitions)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, ROption, RResult, RStr, RString, RVec};
use abi_stable::{StableAbi, declare_root_module_statics, package_version_strings, sabi_trait};

/// The interface version a plugin was built against, as the host checks it after loading.
/// It names the interface, not the crate, so it changes only with a breaking change.
pub const INTERFACE_VERSION: &str = "sera-plugin/1";

/// A bug class that a plugin adds to the taxonomy. The template uses exactly the two
/// variables `{{function}}` and `{{file}}`, like the built-in classes.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct ClassEntry {
    /// Lowercase kebab-case, unique across the built-ins and every loaded plugin.
    pub slug: RString,
    pub name: RString,
    /// The area the class is about, as its prompt names it.
    pub area: RString,
    pub description: RString,
    pub template: RString,
}

/// A mutation operator a plugin offers, and the bug classes its changes belong to.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct OperatorEntry {
    /// Lowercase kebab-case, e.g. `swap-call-arguments`.
    pub slug: RString,
    /// Slugs of bug classes (built-in or the plugin's own).
    pub classes: RVec<RString>,
}

/// One change an operator proposes: replace `start..end` (byte offsets into the whole file,
/// on UTF-8 character boundaries) with `replacement`.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: u64,
    pub end: u64,
    pub replacement: RString,
    /// One line saying what changed, e.g. "swap `a` and `b` in the call to `max`".
    pub description: RString,
}

/// A verifier's judgement of one candidate patch.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct VerdictOut {
    pub accepted: bool,
    /// In `[0, 1]` where the verifier has a score.
    pub score: ROption<f64>,
    pub reason: RString,
}

/// An error a plugin returns, including a panic caught at the plugin boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// True when the error is a panic inside the plugin.
    pub panicked: bool,
    pub message: RString,
}

impl PluginError {
    pub fn new(message: impl Into<String>) -> PluginError {
        PluginError { panicked: false, message: RString::from(message.into()) }
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.panicked {
            write!(f, "plugin panicked: {}", self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for PluginError {}

/// The FFI-safe face of a bug-class plugin. Build one with [`bug_class_plugin`].
#[sabi_trait]
pub trait BugClassPlugin: Send + Sync + 'static {
    /// The taxonomy entries the plugin adds.
    fn classes(&self) -> RResult<RVec<ClassEntry>, PluginError>;

    /// The operators [`BugClassPlugin::mutate`] accepts.
    fn operators(&self) -> RResult<RVec<OperatorEntry>, PluginError>;

    /// The edits `operator` proposes inside `span_start..span_end` (an entity's bytes) of
    /// `source`, written in `language` (`rust`, `python`, ...).
    #[sabi(last_prefix_field)]
    fn mutate(
        &self,
        operator: RStr<'_>,
        source: RStr<'_>,
        language: RStr<'_>,
        span_start: u64,
        span_end: u64,
    ) -> RResult<RVec<Edit>, PluginError>;
}

/// The FFI-safe face of a verifier plugin. Build one with [`verifier_plugin`].
#[sabi_trait]
pub trait VerifierPlugin: Send + Sync + 'static {
    /// The verifier's name, as it appears in verdicts.
    fn name(&self) -> RString;

    /// Judges `patch` (a unified diff) for the instance (its JSON record), given the test
    /// results (a JSON value; `null` when no tests ran).
    #[sabi(last_prefix_field)]
    fn verify(
        &self,
        instance_json: RStr<'_>,
        patch: RStr<'_>,
        tests_json: RStr<'_>,
    ) -> RResult<VerdictOut, PluginError>;
}

/// A boxed bug-class plugin, as it crosses the library boundary.
pub type BugClassPluginBox = BugClassPlugin_TO<RBox<()>>;
/// A boxed verifier plugin, as it crosses the library boundary.
pub type VerifierPluginBox = VerifierPlugin_TO<RBox<()>>;

/// The root module every plugin library exports with `#[export_root_module]`.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = SeraPluginRef)))]
#[sabi(missing_field(panic))]
pub struct SeraPlugin {
    /// Returns [`INTERFACE_VERSION`] as the plugin saw it when it was built.
    pub interface_version: extern "C" fn() -> RStr<'static>,
    /// The plugin's name, e.g. `swap-args`; bug classes it adds name it as their origin.
    pub name: extern "C" fn() -> RStr<'static>,
    /// The bug-class plugins the library provides (possibly none), or why it cannot.
    pub bug_classes: extern "C" fn() -> RResult<RVec<BugClassPluginBox>, PluginError>,
    /// The verifier plugins the library provides (possibly none), or why it cannot.
    #[sabi(last_prefix_field)]
    pub verifiers: extern "C" fn() -> RResult<RVec<VerifierPluginBox>, PluginError>,
}

impl RootModule for SeraPluginRef {
    declare_root_module_statics! {SeraPluginRef}
    const BASE_NAME: &'static str = "sera_plugin";
    const NAME: &'static str = "sera_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The plain-Rust trait a bug-class plugin implements; [`bug_class_plugin`] makes it FFI-safe.
pub trait BugClass: Send + Sync + 'static {
    /// The taxonomy entries the plugin adds (possibly none, if its operators only use
    /// built-in classes).
    fn classes(&self) -> Vec<ClassEntry>;
    /// The operators the plugin offers.
    fn operators(&self) -> Vec<OperatorEntry>;
    /// The edits `operator` proposes within `span` of `source`; an unknown operator or
    /// language is an error or no edits, at the plugin's choice.
    fn mutate(
        &self,
        operator: &str,
        source: &str,
        language: &str,
        span: std::ops::Range<usize>,
    ) -> Result<Vec<Edit>, PluginError>;
}

/// The plain-Rust trait a verifier plugin implements; [`verifier_plugin`] makes it FFI-safe.
pub trait Verifier: Send + Sync + 'static {
    fn name(&self) -> String;
    fn verify(
        &self,
        instance_json: &str,
        patch: &str,
        tests_json: &str,
    ) -> Result<VerdictOut, PluginError>;
}

/// Wraps a [`BugClass`] so that it crosses the library boundary; every call runs under
/// `catch_unwind`, so a panic becomes a [`PluginError`] instead of an abort.
pub fn bug_class_plugin<T: BugClass>(plugin: T) -> BugClassPluginBox {
    BugClassPlugin_TO::from_value(Guarded(plugin), abi_stable::sabi_trait::TD_Opaque)
}

/// Wraps a [`Verifier`] so that it crosses the library boundary, catching panics like
/// [`bug_class_plugin`].
pub fn verifier_plugin<T: Verifier>(plugin: T) -> VerifierPluginBox {
    VerifierPlugin_TO::from_value(Guarded(plugin), abi_stable::sabi_trait::TD_Opaque)
}

/// Runs `f`, turning a panic into a [`PluginError`]. Unwinding across the `extern "C"`
/// boundary would abort the host, so every call into plugin code goes through this.
pub fn guard<T>(f: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.into(),
        Err(payload) => {
            let message = if let Some(text) = payload.downcast_ref::<&str>() {
                (*text).to_string()
            } else if let Some(text) = payload.downcast_ref::<String>() {
                text.clone()
            } else {
                "a panic with a non-string payload".to_string()
            };
            RResult::RErr(PluginError { panicked: true, message: RString::from(message) })
        }
    }
}

/// The adapter from the plain-Rust traits to the FFI-safe ones.
struct Guarded<T>(T);

impl<T: BugClass> BugClassPlugin for Guarded<T> {
    fn classes(&self) -> RResult<RVec<ClassEntry>, PluginError> {
        guard(|| Ok(RVec::from(self.0.classes())))
    }

    fn operators(&self) -> RResult<RVec<OperatorEntry>, PluginError> {
        guard(|| Ok(RVec::from(self.0.operators())))
    }

    fn mutate(
        &self,
        operator: RStr<'_>,
        source: RStr<'_>,
        language: RStr<'_>,
        span_start: u64,
        span_end: u64,
    ) -> RResult<RVec<Edit>, PluginError> {
        guard(|| {
            // The host passes offsets from `usize`, so they fit; a plugin loaded by a host on
            // a wider platform is refused here rather than truncated.
            let start = usize::try_from(span_start)
                .map_err(|_| PluginError::new(format!("span start {span_start} out of range")))?;
            let end = usize::try_from(span_end)
                .map_err(|_| PluginError::new(format!("span end {span_end} out of range")))?;
            self.0
                .mutate(operator.as_str(), source.as_str(), language.as_str(), start..end)
                .map(RVec::from)
        })
    }
}

impl<T: Verifier> VerifierPlugin for Guarded<T> {
    fn name(&self) -> RString {
        // A name is plain data; a panic here still must not unwind into the host.
        match guard(|| Ok(self.0.name())) {
            RResult::ROk(name) => RString::from(name),
            RResult::RErr(_) => RString::from("<verifier whose name panicked>"),
        }
    }

    fn verify(
        &self,
        instance_json: RStr<'_>,
        patch: RStr<'_>,
        tests_json: RStr<'_>,
    ) -> RResult<VerdictOut, PluginError> {
        guard(|| self.0.verify(instance_json.as_str(), patch.as_str(), tests_json.as_str()))
    }
}

/// Declares a plugin library's root module. Put this once in a plugin's `lib.rs`:
///
/// ```ignore
/// sera_plugin_api::export_plugin! {
///     name: "swap-args",
///     bug_classes: || vec![sera_plugin_api::bug_class_plugin(SwapArgs)],
///     verifiers: || vec![],
/// }
/// ```
#[macro_export]
macro_rules! export_plugin {
    (name: $name:expr, bug_classes: $bug:expr, verifiers: $ver:expr $(,)?) => {
        // What `#[export_root_module]` expands to, written out because its expansion names
        // `::abi_stable`, which a plugin depending on this crate alone cannot resolve. The
        // symbol name is abi_stable's `ROOT_MODULE_LOADER_NAME` (a test keeps them equal).
        #[unsafe(no_mangle)]
        #[allow(non_upper_case_globals)]
        pub static _1as_0lib_1header_0root_bmodule_bloader:
            $crate::abi_stable::library::LibHeader = {
            extern "C" fn erased() -> $crate::abi_stable::library::RootModuleResult {
                $crate::abi_stable::library::__call_root_module_loader(__sera_plugin_root)
            }
            // SAFETY: `erased` returns the root module of type `SeraPluginRef`, the type the
            // header is declared for, and the layout is checked by the host at load time.
            unsafe {
                $crate::abi_stable::library::LibHeader::from_constructor::<$crate::SeraPluginRef>(
                    erased,
                    $crate::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };

        pub fn __sera_plugin_root() -> $crate::SeraPluginRef {
            use $crate::reexports::PrefixTypeTrait;
            extern "C" fn interface_version() -> $crate::reexports::RStr<'static> {
                $crate::reexports::RStr::from_str($crate::INTERFACE_VERSION)
            }
            extern "C" fn name() -> $crate::reexports::RStr<'static> {
                $crate::reexports::RStr::from_str($name)
            }
            extern "C" fn bug_classes() -> $crate::reexports::RResult<
                $crate::reexports::RVec<$crate::BugClassPluginBox>,
                $crate::PluginError,
            > {
                // The constructors are plain Rust; a panic in one must not unwind into the host.
                let make: fn() -> Vec<$crate::BugClassPluginBox> = $bug;
                $crate::guard(|| Ok(make().into()))
            }
            extern "C" fn verifiers() -> $crate::reexports::RResult<
                $crate::reexports::RVec<$crate::VerifierPluginBox>,
                $crate::PluginError,
            > {
                let make: fn() -> Vec<$crate::VerifierPluginBox> = $ver;
                $crate::guard(|| Ok(make().into()))
            }
            $crate::SeraPlugin { interface_version, name, bug_classes, verifiers }
                .leak_into_prefix()
        }
    };
}

/// What [`export_plugin!`] needs, so that plugins depend on this crate alone.
#[doc(hidden)]
pub mod reexports {
    pub use abi_stable::prefix_type::PrefixTypeTrait;
    pub use abi_stable::std_types::{RResult, RStr, RVec};
}

pub use abi_stable;

#[cfg(test)]
mod tests {
    #[test]
    fn export_plugin_uses_abi_stables_root_module_symbol() {
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}
