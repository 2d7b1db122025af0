//! Rust: functions, methods in `impl` and `trait` blocks, inline modules, test markers and calls.

use std::sync::OnceLock;

use tree_sitter::{Node, Tree};

use super::{Grammar, Kinds, Scope, Scopes, outline, text};
use crate::lang::{LanguageSupport, Outline, ParseFailure, SourceFile};
use crate::naming;

/// The Rust grammar of tree-sitter-rust.
///
/// Naming: a function's qualified name is its module path (see [`naming::rust_module_path`] and
/// inline `mod` blocks), the implementing type, then any enclosing functions:
/// `account::Ledger::largest_transfers::amount`. A method of `impl Trait for Type` is named after
/// the type alone (`account::Account::describe`, not `<Account as Describe>::describe`): that is
/// the name a reader searches for and the one a call site `x.describe()` suggests. Two impls of
/// one trait with different type arguments can therefore share a qualified name; the entity id,
/// which includes the start byte, still tells them apart.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rust;

impl LanguageSupport for Rust {
    fn language(&self) -> sera_core::Language {
        sera_core::Language::Rust
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["rs"]
    }

    fn outline(&self, file: &SourceFile<'_>) -> Result<Outline, ParseFailure> {
        self.outline_with_tree(file).map(|(outline, _)| outline)
    }

    fn outline_with_tree(
        &self,
        file: &SourceFile<'_>,
    ) -> Result<(Outline, Option<Tree>), ParseFailure> {
        let module = naming::rust_module_path(file.path);
        let test = naming::is_rust_test_path(file.path);
        let (outline, tree) =
            outline(self, "rust", || tree_sitter_rust::LANGUAGE.into(), file.text, module, test)?;
        Ok((outline, Some(tree)))
    }
}

impl Grammar for Rust {
    const SEPARATOR: &'static str = "::";

    type State = Attributes;

    fn kinds(&self) -> &'static Kinds {
        static KINDS: OnceLock<Kinds> = OnceLock::new();
        KINDS.get_or_init(|| Kinds::new(&tree_sitter_rust::LANGUAGE.into()))
    }

    fn enter(
        &self,
        node: Node<'_>,
        kind: &'static str,
        attributes: &mut Attributes,
        scopes: &mut Scopes<'_>,
    ) -> bool {
        let depth = scopes.depth;
        let before = match kind {
            "attribute_item" => {
                let text = node.named_child(0).map_or("", |a| attribute_text(a, scopes.source));
                attributes.add(depth, text);
                return false;
            }
            // Doc comments sit between attributes and the item.
            "line_comment" | "block_comment" => return false,
            _ => attributes.take(depth),
        };
        match kind {
            "function_item" => {
                let name = node.child_by_field_name("name").map_or("", |n| scopes.text(n));
                let is_async = is_async(node);
                scopes.define(node, name, is_async, before.test);
                true
            }
            "impl_item" => {
                let name = node.child_by_field_name("type").map(|t| type_name(t, scopes.source));
                scopes.open(Scope::Type, name.as_deref().unwrap_or("_"), false);
                true
            }
            "trait_item" => {
                let name = node.child_by_field_name("name").map_or("_", |n| scopes.text(n));
                scopes.open(Scope::Type, name, false);
                true
            }
            "mod_item" => {
                // `mod name;` has no body: its items live in another file, named by its path.
                if node.child_by_field_name("body").is_some() {
                    let name = node.child_by_field_name("name").map_or("_", |n| scopes.text(n));
                    scopes.open(Scope::Module, name, before.cfg_test);
                }
                true
            }
            "inner_attribute_item" => {
                // `#![cfg(test)]` at the top of a file or module body makes all of it test code.
                if node
                    .named_child(0)
                    .is_some_and(|a| is_cfg_test(attribute_text(a, scopes.source)))
                {
                    scopes.mark_test();
                }
                false
            }
            "call_expression" => {
                if let Some(callee) =
                    node.child_by_field_name("function").and_then(|f| callee_name(f, scopes.source))
                {
                    scopes.call(callee);
                }
                true
            }
            // A call needs a function to belong to, and a macro's tokens define nothing, so a
            // token tree outside functions (`lazy_static! { .. }` and the like, often large)
            // is not walked.
            "token_tree" if !scopes.in_function() => false,
            "token_tree" => {
                macro_calls(node, scopes);
                true
            }
            // These hold no functions and no calls of the code itself (type definitions,
            // attributes, macro definitions, `use` trees, literals); not walking them saves a
            // good part of the walk. `const` and `static` items are walked: a block in their
            // initialiser may define functions.
            "macro_definition"
            | "use_declaration"
            | "extern_crate_declaration"
            | "struct_item"
            | "enum_item"
            | "union_item"
            | "type_item"
            | "string_literal"
            | "raw_string_literal"
            | "char_literal" => false,
            _ => true,
        }
    }
}

fn is_async(function: Node<'_>) -> bool {
    let mut cursor = function.walk();
    function.children(&mut cursor).filter(|c| c.kind() == "function_modifiers").any(|modifiers| {
        let mut inner = modifiers.walk();
        modifiers.children(&mut inner).any(|m| m.kind() == "async")
    })
}

/// What the attributes written before the next item say, per depth of the walk: Rust writes
/// `#[test]` as a sibling that comes before its item, so the walk meets it first.
#[derive(Debug, Default)]
pub(super) struct Attributes {
    pending: Vec<Marks>,
}

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Marks {
    /// A test attribute: `#[test]`, `#[tokio::test]`, ... (see [`is_test_attribute`]).
    test: bool,
    /// `#[cfg(test)]` (see [`is_cfg_test`]).
    cfg_test: bool,
}

impl Attributes {
    fn at(&mut self, depth: usize) -> &mut Marks {
        // Anything deeper belongs to a finished sibling's subtree.
        self.pending.resize(depth + 1, Marks::default());
        &mut self.pending[depth]
    }

    /// Records the attribute `text` (`test`, `cfg(test)`, ...) at `depth`.
    fn add(&mut self, depth: usize, text: &str) {
        let marks = self.at(depth);
        marks.test |= is_test_attribute(text);
        marks.cfg_test |= is_cfg_test(text);
    }

    /// The attributes of the node at `depth` the walk now enters, which ends their run.
    fn take(&mut self, depth: usize) -> Marks {
        std::mem::take(self.at(depth))
    }
}

fn attribute_text<'s>(attribute: Node<'_>, source: &'s str) -> &'s str {
    text(attribute, source)
}

/// `#[test]` and the test attributes of common harnesses (`#[tokio::test]`, `#[rstest]`,
/// `#[test_case(..)]`), and `#[bench]`.
fn is_test_attribute(attribute: &str) -> bool {
    let path = attribute.split(['(', '[', '=']).next().unwrap_or("").trim();
    let last = path.rsplit("::").next().unwrap_or(path).trim();
    matches!(last, "test" | "rstest" | "test_case" | "bench")
}

/// `#[cfg(test)]`, also inside `all(..)` or `any(..)`, but not under `not(..)`.
fn is_cfg_test(attribute: &str) -> bool {
    let Some(arguments) = attribute.trim().strip_prefix("cfg") else { return false };
    if !arguments.trim_start().starts_with('(') {
        return false;
    }
    let words: Vec<&str> = arguments.split(|c: char| !(c.is_alphanumeric() || c == '_')).collect();
    words.contains(&"test") && !words.contains(&"not")
}

/// The name an `impl` block gives its methods: the type's last path segment without generic
/// arguments (`Vec<T>` is `Vec`, `fmt::Formatter` is `Formatter`, `&'a str` is `str`).
fn type_name(node: Node<'_>, source: &str) -> String {
    match node.kind() {
        "generic_type" | "reference_type" | "pointer_type" => {
            match node.child_by_field_name("type") {
                Some(inner) => type_name(inner, source),
                None => collapse(text(node, source)),
            }
        }
        "scoped_type_identifier" => match node.child_by_field_name("name") {
            Some(name) => text(name, source).to_string(),
            None => collapse(text(node, source)),
        },
        _ => collapse(text(node, source)),
    }
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The bare name called by a call expression's function part: `f(..)`, `a::b::f(..)`,
/// `x.f(..)` and `f::<T>(..)` all call `f`. Anything else (a closure, an index) has no name.
fn callee_name<'s>(function: Node<'_>, source: &'s str) -> Option<&'s str> {
    let name = match function.kind() {
        "identifier" => function,
        "scoped_identifier" => function.child_by_field_name("name")?,
        "field_expression" => function.child_by_field_name("field")?,
        "generic_function" => {
            return callee_name(function.child_by_field_name("function")?, source);
        }
        _ => return None,
    };
    matches!(name.kind(), "identifier" | "field_identifier").then(|| text(name, source))
}

/// Calls inside a macro's token tree: tree-sitter leaves macro arguments unparsed, so
/// `format!("{}", format_cents(x))` would otherwise hide its call. An identifier directly
/// followed by a parenthesised token tree counts as a call, unless it follows `fn`.
fn macro_calls(tree: Node<'_>, scopes: &mut Scopes<'_>) {
    let mut cursor = tree.walk();
    let mut previous: Option<Node<'_>> = None;
    let mut before_previous: Option<Node<'_>> = None;
    for child in tree.children(&mut cursor) {
        let parenthesised =
            child.kind() == "token_tree" && child.child(0).is_some_and(|open| open.kind() == "(");
        let after_fn = before_previous.is_some_and(|b| text(b, scopes.source) == "fn");
        if let Some(name) =
            previous.filter(|p| parenthesised && !after_fn && p.kind() == "identifier")
        {
            scopes.call(text(name, scopes.source));
        }
        before_previous = previous;
        previous = Some(child);
    }
}
