//! Test fixture, not an example: a plugin as built against sera-plugin-api 0.0.1.
//!
//! It exports a root module under the same abi_stable name as today's interface
//! (`sera_plugin`), with version strings `0.0.1` and a smaller layout: one `name` field. The
//! host must refuse it with a message saying which interface it was built against, which the
//! tests in `sera-plugin-testkit` check. Keep it frozen: it is the "old plugin" of the
//! append-only rules in docs/plugins.md.

// `#[derive(StableAbi)]` on a prefix type expands to impls inside a generated const.
#![allow(non_local_definitions)]

use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RStr;
use abi_stable::{StableAbi, declare_root_module_statics, export_root_module};

/// The root module of interface 0.0.1.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = SeraPluginV0Ref)))]
#[sabi(missing_field(panic))]
pub struct SeraPluginV0 {
    #[sabi(last_prefix_field)]
    pub name: extern "C" fn() -> RStr<'static>,
}

impl RootModule for SeraPluginV0Ref {
    declare_root_module_statics! {SeraPluginV0Ref}
    const BASE_NAME: &'static str = "sera_plugin";
    const NAME: &'static str = "sera_plugin";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("0.0.1");
}

extern "C" fn name() -> RStr<'static> {
    RStr::from_str("old-version")
}

#[export_root_module]
pub fn root() -> SeraPluginV0Ref {
    SeraPluginV0 { name }.leak_into_prefix()
}
