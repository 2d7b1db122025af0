//! Python: functions, methods, nested functions, pytest markers and calls.

use std::sync::OnceLock;

use tree_sitter::{Node, Tree};

use super::{Grammar, Kinds, Scope, Scopes, outline};
use crate::lang::{LanguageSupport, Outline, ParseFailure, SourceFile};
use crate::naming;

/// The Python grammar of tree-sitter-python.
///
/// Naming: the module path (see [`naming::python_module_path`]), enclosing classes and functions,
/// then the name: `inventory.core.Item.value_cents`, `inventory.pricing.bulk_price.best_percent`.
/// Decorators do not change a name, and the span is that of the `def` itself, without its
/// decorators, as a Rust function's span leaves out its attributes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Python;

impl LanguageSupport for Python {
    fn language(&self) -> sera_core::Language {
        sera_core::Language::Python
    }

    /// Only `.py`: a `.pyi` stub has no bodies to mutate, and its signatures would make every
    /// name it declares ambiguous to the call graph.
    fn extensions(&self) -> &'static [&'static str] {
        &["py"]
    }

    fn outline(&self, file: &SourceFile<'_>) -> Result<Outline, ParseFailure> {
        self.outline_with_tree(file).map(|(outline, _)| outline)
    }

    fn outline_with_tree(
        &self,
        file: &SourceFile<'_>,
    ) -> Result<(Outline, Option<Tree>), ParseFailure> {
        let module = naming::python_module_path(file.path, &file.layout.python_packages);
        let test = naming::is_python_test_path(file.path);
        let (outline, tree) = outline(
            self,
            "python",
            || tree_sitter_python::LANGUAGE.into(),
            file.text,
            module,
            test,
        )?;
        Ok((outline, Some(tree)))
    }
}

impl Grammar for Python {
    const SEPARATOR: &'static str = ".";

    type State = ();

    fn kinds(&self) -> &'static Kinds {
        static KINDS: OnceLock<Kinds> = OnceLock::new();
        KINDS.get_or_init(|| Kinds::new(&tree_sitter_python::LANGUAGE.into()))
    }

    fn enter(
        &self,
        node: Node<'_>,
        kind: &'static str,
        _: &mut (),
        scopes: &mut Scopes<'_>,
    ) -> bool {
        match kind {
            "function_definition" => {
                let name = node.child_by_field_name("name").map_or("", |n| scopes.text(n));
                let is_async = node.child(0).is_some_and(|first| first.kind() == "async");
                scopes.define(node, name, is_async, naming::is_pytest_function(name));
                true
            }
            "class_definition" => {
                let name = node.child_by_field_name("name").map_or("_", |n| scopes.text(n));
                // unittest-style classes are test code whatever their name.
                let unittest = node
                    .child_by_field_name("superclasses")
                    .is_some_and(|bases| scopes.text(bases).contains("TestCase"));
                scopes.open(Scope::Type, name, naming::is_pytest_class(name) || unittest);
                true
            }
            "call" => {
                if let Some(callee) =
                    node.child_by_field_name("function").and_then(|f| callee_name(f, scopes))
                {
                    scopes.call(callee);
                }
                true
            }
            "comment" => false,
            _ => true,
        }
    }
}

/// The bare name a call's function part names: `f(..)` and `obj.f(..)` both call `f`.
fn callee_name<'s>(function: Node<'_>, scopes: &Scopes<'s>) -> Option<&'s str> {
    match function.kind() {
        "identifier" => Some(scopes.text(function)),
        "attribute" => function.child_by_field_name("attribute").map(|a| scopes.text(a)),
        _ => None,
    }
}

/// The rows (0-based, first and last, both inclusive) of the body of every Python function
/// definition in `text`, nested ones and methods included, in document order. This is what
/// SWE-agent's editor elides when it shows a long Python file as a filemap: the tree-sitter
/// query `(function_definition body: (_) @body)`. Rows are counted in `\n`s, as tree-sitter
/// counts them; a file with syntax errors gives the bodies error recovery finds.
pub fn python_function_body_rows(text: &str) -> Result<Vec<(usize, usize)>, ParseFailure> {
    let tree = super::parse("python", || tree_sitter_python::LANGUAGE.into(), text)?;
    let kinds = Python.kinds();
    let mut rows = Vec::new();
    let mut cursor = tree.walk();
    // A pre-order walk: first child, else next sibling, else the next sibling of an ancestor.
    loop {
        let node = cursor.node();
        if kinds.of(node) == "function_definition"
            && let Some(body) = node.child_by_field_name("body")
        {
            rows.push((body.start_position().row, body.end_position().row));
        }
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return Ok(rows);
            }
        }
    }
}
