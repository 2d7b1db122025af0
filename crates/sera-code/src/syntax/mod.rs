//! The interface to tree-sitter is localized here: parsing, and the walk over syntax trees that
//! turns a file into an [`Outline`]. No other module of this crate names a tree-sitter type.
//!
//! Each language supplies a [`Grammar`] that looks at one node at a time and tells the shared
//! [`Scopes`] walker about scopes (modules, types, functions), definitions and call sites. The
//! walk is iterative (a tree cursor plus an explicit scope stack), so deeply nested input cannot
//! overflow the stack.

mod python;
mod rust;

use std::cell::RefCell;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use sera_core::{ByteSpan, EntityKind, LineSpan};
use tree_sitter::{Node, Parser, Tree};

use crate::lang::{Definition, Outline, ParseFailure};

pub use python::{Python, python_function_body_rows};
pub use rust::Rust;

/// What a language tells the walker about one node.
trait Grammar {
    /// The separator of qualified names (`::` or `.`).
    const SEPARATOR: &'static str;

    /// What the grammar remembers from node to node within one file.
    type State: Default;

    /// The node kinds of the grammar's language.
    fn kinds(&self) -> &'static Kinds;

    /// Looks at `node` (of kind `kind`) on the way down, reporting scopes, definitions and
    /// calls to `scopes`. Returns whether the walk should descend into the node's children.
    fn enter(
        &self,
        node: Node<'_>,
        kind: &'static str,
        state: &mut Self::State,
        scopes: &mut Scopes<'_>,
    ) -> bool;
}

/// Node kind names by kind id, for one grammar. `Node::kind` measures and checks the C string
/// on every call, which a walk over every node of a repository would pay millions of times.
struct Kinds {
    names: Vec<&'static str>,
}

impl Kinds {
    fn new(language: &tree_sitter::Language) -> Kinds {
        let count = language.node_kind_count() as u16;
        let names = (0..count).map(|id| language.node_kind_for_id(id).unwrap_or("")).collect();
        Kinds { names }
    }

    /// What `node.kind()` says, without the C string. Ids beyond the table (tree-sitter's own
    /// `ERROR`) take the slow path.
    fn of(&self, node: Node<'_>) -> &'static str {
        match self.names.get(usize::from(node.kind_id())) {
            Some(name) => name,
            None => node.kind(),
        }
    }
}

thread_local! {
    // A parser holds a few kilobytes of tables and buffers; one per thread and language avoids
    // rebuilding them for every file while staying free of locks.
    static PARSERS: RefCell<Vec<(&'static str, Parser)>> = const { RefCell::new(Vec::new()) };
}

/// Parses `text` with the grammar `language` (named `key` for the parser cache).
fn parse(
    key: &'static str,
    language: fn() -> tree_sitter::Language,
    text: &str,
) -> Result<Tree, ParseFailure> {
    PARSERS.with_borrow_mut(|parsers| {
        let index = match parsers.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                let mut parser = Parser::new();
                parser
                    .set_language(&language())
                    .map_err(|err| ParseFailure(format!("cannot load the {key} grammar: {err}")))?;
                parsers.push((key, parser));
                parsers.len() - 1
            }
        };
        let parser = &mut parsers[index].1;
        // A cancelled parse leaves state behind; a reset keeps it from leaking into this file.
        parser.reset();
        let bytes = text.as_bytes();
        let start = Instant::now();
        // tree-sitter asks every few hundred steps whether to stop: error recovery on
        // adversarial input can take far longer than any real file needs.
        let mut too_slow = |_: &tree_sitter::ParseState| start.elapsed() > PARSE_TIME_LIMIT;
        let options = tree_sitter::ParseOptions::new().progress_callback(&mut too_slow);
        let tree = parser.parse_with_options(
            &mut |at, _| bytes.get(at..).unwrap_or_default(),
            None,
            Some(options),
        );
        tree.ok_or_else(|| {
            ParseFailure(format!("the {key} parser gave up after {} s", PARSE_TIME_LIMIT.as_secs()))
        })
    })
}

/// How long one file may take to parse. Real files of up to the default 1 MiB size limit parse
/// in well under a second.
const PARSE_TIME_LIMIT: Duration = Duration::from_secs(10);

/// Parses and walks one file; returns the tree too, for callers that keep it.
fn outline<G: Grammar>(
    grammar: &G,
    key: &'static str,
    language: fn() -> tree_sitter::Language,
    text: &str,
    module: Vec<String>,
    file_is_test: bool,
) -> Result<(Outline, Tree), ParseFailure> {
    let tree = parse(key, language, text)?;
    let mut scopes = Scopes::new(text, module.join(G::SEPARATOR), G::SEPARATOR, file_is_test);
    let kinds = grammar.kinds();
    let mut state = G::State::default();
    let mut cursor = tree.walk();
    let mut depth = 0usize;
    'walk: loop {
        let node = cursor.node();
        let descend = if node.is_error() {
            scopes.error_nodes += 1;
            scopes.push(depth, Scope::Broken);
            true
        } else {
            if node.is_missing() {
                scopes.error_nodes += 1;
            }
            scopes.depth = depth;
            grammar.enter(node, kinds.of(node), &mut state, &mut scopes)
        };
        if descend && cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        loop {
            scopes.leave(depth);
            if cursor.goto_next_sibling() {
                continue 'walk;
            }
            if !cursor.goto_parent() {
                break 'walk;
            }
            depth -= 1;
        }
    }
    drop(cursor);
    Ok((scopes.finish(), tree))
}

/// The text of `node`, or `""` if its span is not on character boundaries (which tree-sitter
/// never produces for valid UTF-8, but a missing name must not become a panic).
fn text<'s>(node: Node<'_>, source: &'s str) -> &'s str {
    source.get(node.start_byte()..node.end_byte()).unwrap_or("")
}

/// What an open scope is.
#[derive(Debug)]
enum Scope {
    /// A Rust `mod` block: contributes a name, is never a parent.
    Module,
    /// An `impl`, `trait` or `class`: contributes a name and makes functions methods.
    Type,
    /// A function: contributes a name, owns the calls in its body until a nested function.
    Function { definition: usize },
    /// A syntax error, or a definition dropped because of one: nothing inside is trusted.
    Broken,
}

#[derive(Debug)]
struct Frame {
    depth: usize,
    scope: Scope,
    /// The qualified name of this scope.
    path: String,
    /// Test code: this scope or an enclosing one is marked as test.
    test: bool,
}

/// The scope stack of one walk, and what it has collected.
struct Scopes<'s> {
    source: &'s str,
    separator: &'static str,
    root_path: String,
    root_test: bool,
    /// Depth of the node being entered; scopes pushed now close when the walk leaves it.
    depth: usize,
    frames: Vec<Frame>,
    definitions: Vec<Definition>,
    /// Names already recorded per definition, to keep `calls` free of repeats in linear time.
    seen_calls: Vec<HashSet<String>>,
    error_nodes: usize,
    dropped: usize,
}

impl<'s> Scopes<'s> {
    fn new(source: &'s str, root_path: String, separator: &'static str, root_test: bool) -> Self {
        Scopes {
            source,
            separator,
            root_path,
            root_test,
            depth: 0,
            frames: Vec::new(),
            definitions: Vec::new(),
            seen_calls: Vec::new(),
            error_nodes: 0,
            dropped: 0,
        }
    }

    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.source)
    }

    fn current_path(&self) -> &str {
        self.frames.last().map_or(self.root_path.as_str(), |f| f.path.as_str())
    }

    fn in_test(&self) -> bool {
        self.frames.last().map_or(self.root_test, |f| f.test)
    }

    fn broken(&self) -> bool {
        self.frames.iter().any(|f| matches!(f.scope, Scope::Broken))
    }

    fn join(&self, name: &str) -> String {
        let base = self.current_path();
        if base.is_empty() { name.to_string() } else { format!("{base}{}{name}", self.separator) }
    }

    fn push(&mut self, depth: usize, scope: Scope) {
        let (path, test) = (self.current_path().to_string(), self.in_test());
        self.frames.push(Frame { depth, scope, path, test });
    }

    /// Opens a named module or type scope at the current node.
    fn open(&mut self, scope: Scope, name: &str, test: bool) {
        let path = self.join(name);
        let test = test || self.in_test();
        self.frames.push(Frame { depth: self.depth, scope, path, test });
    }

    /// Marks the innermost scope (or the whole file) as test code, for inner attributes such as
    /// `#![cfg(test)]` that come after the scope opened.
    fn mark_test(&mut self) {
        match self.frames.last_mut() {
            Some(frame) => frame.test = true,
            None => self.root_test = true,
        }
    }

    /// Records a function defined by the current node, and opens its scope.
    fn define(&mut self, node: Node<'_>, name: &str, is_async: bool, test: bool) {
        if name.is_empty() || node.has_error() || self.broken() {
            self.dropped += 1;
            self.push(self.depth, Scope::Broken);
            return;
        }
        let enclosing = self.frames.iter().rev().find(|f| !matches!(f.scope, Scope::Module));
        let kind = match enclosing.map(|f| &f.scope) {
            Some(Scope::Type) => EntityKind::Method,
            _ => EntityKind::Function,
        };
        let parent = enclosing.map(|f| f.path.clone());
        let qualified_name = self.join(name);
        let (start, end) = (node.start_position(), node.end_position());
        let definition = Definition {
            name: name.to_string(),
            qualified_name: qualified_name.clone(),
            kind,
            parent,
            bytes: ByteSpan { start: node.start_byte(), end: node.end_byte() },
            lines: LineSpan { start: start.row + 1, end: end.row + 1 },
            is_test: test || self.in_test(),
            is_async,
            calls: Vec::new(),
        };
        let test = definition.is_test;
        self.definitions.push(definition);
        self.seen_calls.push(HashSet::new());
        let scope = Scope::Function { definition: self.definitions.len() - 1 };
        self.frames.push(Frame { depth: self.depth, scope, path: qualified_name, test });
    }

    /// The definition that calls at the current node belong to: the innermost enclosing
    /// function, unless a broken scope comes first.
    fn caller(&self) -> Option<usize> {
        self.frames.iter().rev().find_map(|f| match f.scope {
            Scope::Function { definition } => Some(Some(definition)),
            Scope::Broken => Some(None),
            Scope::Module | Scope::Type => None,
        })?
    }

    /// Whether a call at the current node would be recorded.
    fn in_function(&self) -> bool {
        self.caller().is_some()
    }

    /// Records a call to the bare name `callee` in the innermost enclosing function.
    fn call(&mut self, callee: &str) {
        if callee.is_empty() {
            return;
        }
        if let Some(index) = self.caller() {
            if self.seen_calls[index].insert(callee.to_string()) {
                self.definitions[index].calls.push(callee.to_string());
            }
        }
    }

    /// Closes the scopes opened by the node at `depth`, which the walk is leaving.
    fn leave(&mut self, depth: usize) {
        while self.frames.last().is_some_and(|f| f.depth >= depth) {
            self.frames.pop();
        }
    }

    fn finish(self) -> Outline {
        Outline {
            definitions: self.definitions,
            error_nodes: self.error_nodes,
            dropped: self.dropped,
        }
    }
}

#[cfg(test)]
mod tests;
