//! Test fixture: a sera plugin whose bug-class constructor panics, as a plugin that cannot find
//! its own data files would. The host must refuse it at load time with an error naming the file
//! and the plugin, and carry on. Not an example to follow.

sera_plugin_api::export_plugin! {
    name: "failing-init",
    bug_classes: || panic!("the failing-init fixture's constructor fails by design"),
    verifiers: Vec::new,
}
