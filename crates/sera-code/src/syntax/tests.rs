//! Data-driven checks of the outlines: one source snippet, the definitions expected in it.

use crate::lang::{LanguageSupport, RepoLayout, SourceFile};

/// Outlines `text` as the file `path` and renders each definition as one line:
/// `qualified_name [kind] parent=.. test async calls=a,b`.
fn outline(language: &dyn LanguageSupport, path: &str, text: &str) -> Vec<String> {
    let layout = RepoLayout { python_packages: ["pkg".to_string()].into_iter().collect() };
    let outline = language.outline(&SourceFile { path, text, layout: &layout }).expect("parses");
    outline
        .definitions
        .iter()
        .map(|d| {
            let mut line = format!("{} [{:?}]", d.qualified_name, d.kind);
            if let Some(parent) = &d.parent {
                line.push_str(&format!(" parent={parent}"));
            }
            if d.is_test {
                line.push_str(" test");
            }
            if d.is_async {
                line.push_str(" async");
            }
            if !d.calls.is_empty() {
                line.push_str(&format!(" calls={}", d.calls.join(",")));
            }
            line
        })
        .collect()
}

fn check_rust(path: &str, text: &str, expected: &[&str]) {
    assert_eq!(outline(&super::Rust, path, text), expected, "{path}:\n{text}");
}

fn check_python(path: &str, text: &str, expected: &[&str]) {
    assert_eq!(outline(&super::Python, path, text), expected, "{path}:\n{text}");
}

#[test]
fn rust_functions_are_named_by_module_type_and_enclosing_function() {
    check_rust("src/lib.rs", "fn a() {}", &["a [Function]"]);
    check_rust(
        "src/account.rs",
        "impl Ledger { fn transfer(&self) {} }",
        &["account::Ledger::transfer [Method] parent=account::Ledger"],
    );
    check_rust(
        "src/account.rs",
        "impl Describe for Account { fn describe(&self) {} }",
        &["account::Account::describe [Method] parent=account::Account"],
    );
    check_rust(
        "src/a.rs",
        "impl<T: Clone> fmt::Debug for Wrapper<T> { fn fmt(&self) {} }",
        &["a::Wrapper::fmt [Method] parent=a::Wrapper"],
    );
    check_rust(
        "src/a.rs",
        "impl<'a> From<&'a str> for &'a Name { fn from(s: &str) -> Self { todo() } }",
        &["a::Name::from [Method] parent=a::Name calls=todo"],
    );
    check_rust(
        "src/a.rs",
        "trait T { fn required(&self); fn provided(&self) { self.required() } }",
        &["a::T::provided [Method] parent=a::T calls=required"],
    );
    check_rust("src/a/mod.rs", "mod inner { pub fn f() {} }", &["a::inner::f [Function]"]);
    check_rust(
        "src/a.rs",
        "fn outer() { fn inner() { leaf() } let c = |x| helper(x); inner(); }",
        &[
            "a::outer [Function] calls=helper,inner",
            "a::outer::inner [Function] parent=a::outer calls=leaf",
        ],
    );
    check_rust(
        "src/a.rs",
        "pub async fn load() {} const fn k() {} async unsafe fn u() {}",
        &["a::load [Function] async", "a::k [Function]", "a::u [Function] async"],
    );
    check_rust("src/a.rs", "extern \"C\" { fn ffi(); } fn b() {}", &["a::b [Function]"]);
}

#[test]
fn rust_calls_are_collected_by_bare_name() {
    check_rust(
        "src/lib.rs",
        "fn f() { g(); a::b::h(); x.m(); Self::s(); t::<u8>(); x.v::<u8>(); (k)(); arr[0](); g(); }",
        &["f [Function] calls=g,h,m,s,t,v"],
    );
    check_rust(
        "src/lib.rs",
        "fn f() { println!(\"{}\", fmt_it(x)); assert_eq!(x.norm(), vec![1]); quote!(fn not_a_call() {}); }",
        &["f [Function] calls=fmt_it,norm"],
    );
    check_rust("src/lib.rs", "#[cfg(all(test, x))] fn f() {}", &["f [Function]"]);
    // Macro calls in a function count, even in nested token trees; outside one they have no
    // owner (and a macro outside functions defines no function the index can see).
    check_rust(
        "src/lib.rs",
        "lazy!{ static X: u8 = init(); }\nimpl A { m!{ fn g() { h(); } } fn f() { v!([w(1)]); } }",
        &["A::f [Method] parent=A calls=w"],
    );
}

#[test]
fn rust_test_code_is_recognised() {
    check_rust("src/a.rs", "#[test] fn t() {}", &["a::t [Function] test"]);
    check_rust(
        "src/a.rs",
        "#[tokio::test]\n/// Doc.\nasync fn t() {}",
        &["a::t [Function] test async"],
    );
    check_rust(
        "src/a.rs",
        "#[rstest] fn t() {} #[inline] fn n() {}",
        &["a::t [Function] test", "a::n [Function]"],
    );
    check_rust(
        "src/a.rs",
        "#[cfg(test)] mod tests { fn helper() {} }",
        &["a::tests::helper [Function] test"],
    );
    check_rust(
        "src/a.rs",
        "#[cfg(all(test, unix))] mod tests { fn helper() {} }",
        &["a::tests::helper [Function] test"],
    );
    check_rust("src/a.rs", "#[cfg(not(test))] mod real { fn f() {} }", &["a::real::f [Function]"]);
    check_rust("src/a.rs", "#![cfg(test)]\nfn helper() {}", &["a::helper [Function] test"]);
    check_rust("tests/it.rs", "fn helper() {}", &["it::helper [Function] test"]);
    check_rust("src/a/tests.rs", "fn helper() {}", &["a::tests::helper [Function] test"]);
    check_rust(
        "src/a.rs",
        "#[test] fn t() { fn nested() {} }",
        &["a::t [Function] test", "a::t::nested [Function] parent=a::t test"],
    );
    // An attribute marks the next item only, at any depth, with comments in between.
    check_rust(
        "src/a.rs",
        "impl S {\n    #[test]\n    // Why.\n    fn t() {}\n    fn u() {}\n}\n#[cfg(test)] struct X;\nmod m { fn v() {} }",
        &[
            "a::S::t [Method] parent=a::S test",
            "a::S::u [Method] parent=a::S",
            "a::m::v [Function]",
        ],
    );
}

#[test]
fn python_functions_are_named_by_module_class_and_enclosing_function() {
    check_python("pkg/core.py", "def f():\n    pass\n", &["pkg.core.f [Function]"]);
    check_python("pkg/__init__.py", "def f():\n    pass\n", &["pkg.f [Function]"]);
    check_python(
        "pkg/core.py",
        "class Item:\n    @property\n    def value(self):\n        return 1\n",
        &["pkg.core.Item.value [Method] parent=pkg.core.Item"],
    );
    check_python(
        "pkg/core.py",
        "def outer(xs):\n    def inner(x):\n        return leaf(x)\n    f = lambda y: helper(y)\n    return inner(xs)\n",
        &[
            "pkg.core.outer [Function] calls=helper,inner",
            "pkg.core.outer.inner [Function] parent=pkg.core.outer calls=leaf",
        ],
    );
    check_python(
        "pkg/core.py",
        "def f():\n    class Local:\n        def m(self):\n            pass\n    return Local\n",
        &["pkg.core.f [Function]", "pkg.core.f.Local.m [Method] parent=pkg.core.f.Local"],
    );
    check_python(
        "pkg/core.py",
        "async def fetch():\n    await get()\n\n@deco(arg())\ndef g():\n    pass\n",
        &["pkg.core.fetch [Function] async calls=get", "pkg.core.g [Function]"],
    );
    check_python(
        "pkg/core.py",
        "def f():\n    obj.method()\n    g()(1)\n    f\"{fmt(x)}\"\n",
        &["pkg.core.f [Function] calls=method,g,fmt"],
    );
}

#[test]
fn python_test_code_is_recognised() {
    check_python(
        "pkg/core.py",
        "def test_x():\n    pass\ndef testing():\n    pass\n",
        &["pkg.core.test_x [Function] test", "pkg.core.testing [Function]"],
    );
    check_python(
        "pkg/core.py",
        "class TestX:\n    def helper(self):\n        pass\n",
        &["pkg.core.TestX.helper [Method] parent=pkg.core.TestX test"],
    );
    check_python(
        "pkg/core.py",
        "class X(unittest.TestCase):\n    def check(self):\n        pass\n",
        &["pkg.core.X.check [Method] parent=pkg.core.X test"],
    );
    check_python("tests/helpers.py", "def make():\n    pass\n", &["helpers.make [Function] test"]);
    check_python(
        "pkg/test_core.py",
        "def make():\n    pass\n",
        &["pkg.test_core.make [Function] test"],
    );
    check_python(
        "pkg/core_test.py",
        "def make():\n    pass\n",
        &["pkg.core_test.make [Function] test"],
    );
}

#[test]
fn definitions_with_syntax_errors_are_dropped_and_counted() {
    let layout = RepoLayout::default();
    let text = "def good():\n    return 1\n\ndef bad(:\n    return (\n\ndef after():\n    pass\n";
    let outline =
        super::Python.outline(&SourceFile { path: "m.py", text, layout: &layout }).expect("parses");
    assert!(outline.error_nodes > 0);
    let names: Vec<&str> = outline.definitions.iter().map(|d| d.name.as_str()).collect();
    assert!(names.contains(&"good"), "{names:?}");
    assert!(!names.contains(&"bad"), "{names:?}");

    let text = "fn good() {}\nfn bad() { let x = ; }\nfn also_good() { 1 }\n";
    let outline = super::Rust
        .outline(&SourceFile { path: "src/lib.rs", text, layout: &layout })
        .expect("parses");
    assert!(outline.error_nodes > 0);
    assert_eq!(outline.dropped, 1);
    let names: Vec<&str> = outline.definitions.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["good", "also_good"]);
}

#[test]
fn spans_are_bytes_and_one_based_lines() {
    let layout = RepoLayout::default();
    let text = "// c\n#[test]\nfn a() {\n}\n";
    let outline = super::Rust
        .outline(&SourceFile { path: "src/lib.rs", text, layout: &layout })
        .expect("parses");
    let a = &outline.definitions[0];
    assert_eq!(&text[a.bytes.start..a.bytes.end], "fn a() {\n}");
    assert_eq!((a.lines.start, a.lines.end), (3, 4));
}

#[test]
fn pathological_input_does_not_panic() {
    let layout = RepoLayout::default();
    let deep = format!("fn f() {{ {}1{} }}", "(".repeat(50_000), ")".repeat(50_000));
    let nested = "def f():\n".to_string()
        + &(1..200).map(|i| format!("{}def f{i}():\n", "    ".repeat(i))).collect::<String>();
    for (language, text) in [
        (&super::Rust as &dyn LanguageSupport, deep.as_str()),
        (&super::Rust, "}}}{{{ fn fn fn ((( impl for for"),
        (&super::Rust, ""),
        (&super::Python, nested.as_str()),
        (&super::Python, "\u{feff}def f(:\n\t  \x00 class"),
    ] {
        let _ = language.outline(&SourceFile { path: "src/x.rs", text, layout: &layout });
    }
}

/// The kind table names every node as `Node::kind` does, tree-sitter's `ERROR` included.
#[test]
fn kind_table_agrees_with_tree_sitter() {
    let rust = "fn f(x: &[u8]) -> Option<u8> { x.iter().map(|b| b + 1).max() }\nfn broken( {\n";
    let python = "class A:\n    def f(self, *a, **k):\n        return [x async for x in a] or (\n";
    for (kinds, language, text) in [
        (super::Grammar::kinds(&super::Rust), tree_sitter_rust::LANGUAGE.into(), rust),
        (super::Grammar::kinds(&super::Python), tree_sitter_python::LANGUAGE.into(), python),
    ] {
        let mut parser = tree_sitter::Parser::new();
        parser.set_language(&language).unwrap();
        let tree = parser.parse(text, None).unwrap();
        let mut cursor = tree.walk();
        let (mut seen, mut errors) = (0, 0);
        'walk: loop {
            let node = cursor.node();
            assert_eq!(kinds.of(node), node.kind(), "{node:?}");
            seen += 1;
            errors += usize::from(node.is_error());
            if cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    break 'walk;
                }
            }
        }
        assert!(seen > 30 && errors > 0, "{seen} nodes, {errors} errors");
    }
}

#[test]
fn python_function_bodies_are_the_rows_swe_agent_elides() {
    // Rows as SWE-agent's filemap query reports them (checked against tree-sitter-languages'
    // grammar in sera-rollout's conformance data): a body runs from its first statement to its
    // last, nested functions are reported too, and a body that starts on the `def` line starts
    // there. Trailing blank lines and comments after the last statement are not part of it.
    let text = "def f(a):\n    x = 1\n\n    return x\n\n\nclass A:\n    async def g(self):\n        def h():\n            pass\n        return h\n    # trailing comment\n\ndef one(): return [\n    1,\n]\n";
    assert_eq!(
        super::python_function_body_rows(text).unwrap(),
        [(1, 3), (8, 10), (9, 9), (13, 15)]
    );
    assert_eq!(super::python_function_body_rows("x = 1\n").unwrap(), []);
}
