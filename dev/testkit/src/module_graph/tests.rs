//! The reader on snippets (a circle found, a non-circle passed), then the check itself.

use super::*;

/// The graph of a crate given as (file, source) snippets, its root `src/lib.rs`.
fn graph(files: &[(&str, &str)]) -> Graph {
    let files: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(p, s)| (PathBuf::from(p), s.to_string()))
        .collect();
    Graph::load(Path::new("src/lib.rs"), &move |p: &Path| {
        files.get(p).cloned()
    })
}

#[test]
fn a_child_importing_its_parent_is_a_circle() {
    let g = graph(&[
        ("src/lib.rs", "pub mod ops;"),
        (
            "src/ops/mod.rs",
            "mod scaler; type Parsed = (); pub fn register() { scaler::parse(); }",
        ),
        ("src/ops/scaler.rs", "pub fn parse() -> super::Parsed {}"),
    ]);
    let cycles = g.cycles();
    assert_eq!(
        cycles,
        vec![vec!["ops".to_owned(), "ops::scaler".to_owned()]]
    );
    let text = g.describe(&cycles[0]);
    assert!(text.contains("ops::scaler (src/ops/scaler.rs)"), "{text}");
    assert!(
        text.contains("-> ops  at src/ops/scaler.rs:1: super::Parsed"),
        "{text}"
    );
}

#[test]
fn helpers_in_a_leaf_sibling_make_no_circle() {
    let g = graph(&[
        ("src/lib.rs", "pub mod ops;"),
        (
            "src/ops/mod.rs",
            "mod parsing;\nmod scaler;\npub fn register() { scaler::parse(); }",
        ),
        ("src/ops/parsing.rs", "pub type Parsed = ();"),
        (
            "src/ops/scaler.rs",
            "use super::parsing::Parsed;\npub fn parse() -> Parsed {}",
        ),
    ]);
    assert_eq!(g.cycles(), Vec::<Vec<String>>::new());
    let modules: Vec<&str> = g.modules().collect();
    assert_eq!(modules, ["", "ops", "ops::parsing", "ops::scaler"]);
}

#[test]
fn a_loop_through_the_crate_roots_re_exports_is_a_circle() {
    // Three modules, each naming the next only as `crate::Name`.
    let g = graph(&[
        (
            "src/lib.rs",
            "mod batch; mod missing; mod schema;\n\
             pub use batch::Batch;\npub use schema::{FeatureSchema, MISSING as M};\n\
             pub use missing::*;",
        ),
        ("src/batch.rs", "use crate::Fill;\npub struct Batch;"),
        ("src/missing.rs", "pub struct Fill(crate::M);"),
        (
            "src/schema.rs",
            "pub const MISSING: u8 = 0;\npub struct FeatureSchema(crate::Batch);",
        ),
    ]);
    let all = vec![
        "batch".to_owned(),
        "missing".to_owned(),
        "schema".to_owned(),
    ];
    assert_eq!(g.cycles(), vec![all.clone()]);
    let text = g.describe(&all);
    assert!(
        text.contains("-> missing  at src/batch.rs:1: crate::Fill"),
        "{text}"
    );
    assert!(
        text.contains("-> schema  at src/missing.rs:1: crate::M"),
        "{text}"
    );
}

#[test]
fn use_groups_self_paths_and_child_paths_are_imports() {
    let g = graph(&[
        ("src/lib.rs", "mod a; mod b; mod c; mod d;"),
        (
            "src/a.rs",
            "use crate::{b, c::{self, X as Y}};\nfn f() { d_helper(); }",
        ),
        ("src/b.rs", "pub mod inner { pub fn g() { crate::a::f() } }"),
        ("src/c.rs", "pub struct X;"),
        (
            "src/d.rs",
            "use self::e::E;\nmod e { pub struct E; }\nfn h() { e::E; }",
        ),
    ]);
    // Every import is seen; b::inner -> a -> b is no circle: b does not import inner.
    let edges = g.edges();
    assert!(edges["a"].contains_key("b"));
    assert!(edges["a"].contains_key("c"));
    assert!(edges["b::inner"].contains_key("a"));
    assert!(edges["d"].contains_key("d::e"));
    assert_eq!(g.cycles(), Vec::<Vec<String>>::new());
}

#[test]
fn tests_comments_strings_and_characters_are_not_imports() {
    let g = graph(&[
        ("src/lib.rs", "mod a;\nmod b;\n#[cfg(test)]\nmod tests;"),
        ("src/a.rs", "pub fn f() { crate::b::g() }"),
        (
            "src/b.rs",
            "// crate::a::f\n/* crate::a::f /* nested */ crate::a::f */\n\
             /// [`crate::a`]\n\
             pub fn g() -> &'static str { let _ = ('\\'', 'a', b'\"'); \"crate::a::f\" }\n\
             fn raw() -> &'static str { r#\"crate::a::f \"quoted\"\"# }\n\
             #[cfg(test)]\nmod tests { use crate::a::f; }\n\
             #[cfg(test)]\nuse crate::a;\n\
             #[cfg(all(test, feature = \"x\"))]\nfn helper() { crate::a::f() }\n\
             #[cfg(not(test))]\npub fn live() {}",
        ),
        // Never read: reading it would fail on its `mod missing;`.
        ("src/tests.rs", "mod missing; use crate::b::g;"),
    ]);
    assert_eq!(g.cycles(), Vec::<Vec<String>>::new());
    assert!(g.edges()["b"].is_empty(), "{:?}", g.edges()["b"]);
    assert!(g.modules["b"].defines.contains("live"));
    assert_eq!(g.files().1, BTreeSet::from([PathBuf::from("src/tests.rs")]));
}

#[test]
fn path_attributes_and_nested_files_are_followed() {
    let g = graph(&[
        ("src/lib.rs", "#[path = \"elsewhere/x.rs\"]\nmod x;\nmod y;"),
        ("src/elsewhere/x.rs", "mod z;\npub fn f() { crate::y::g() }"),
        ("src/elsewhere/z.rs", "pub fn h() { super::f() }"),
        ("src/y.rs", "mod w;\npub fn g() { w::k() }"),
        ("src/y/w.rs", "pub fn k() { crate::x::f() }"),
    ]);
    assert_eq!(
        g.modules().collect::<Vec<_>>(),
        ["", "x", "x::z", "y", "y::w"]
    );
    assert_eq!(
        g.cycles(),
        vec![vec!["x".to_owned(), "y".to_owned(), "y::w".to_owned()]]
    );
}

/// The check itself: every product crate, on disk.
#[test]
fn product_crates_have_no_module_circles() {
    // Another checkout (e.g. an older commit's `git archive`) can be checked instead.
    let repo = std::env::var_os("MODULE_GRAPH_REPO")
        .map_or_else(crate::moto::repository_root, PathBuf::from);
    let mut report = String::new();
    let mut roots = 0;
    for krate in PRODUCT_CRATES {
        let src = repo.join(krate).join("src");
        let (mut read, mut tests) = (BTreeSet::new(), BTreeSet::new());
        for root in ["lib.rs", "main.rs"] {
            let root = src.join(root);
            if !root.exists() {
                continue;
            }
            roots += 1;
            let g = Graph::load_file(&root);
            let (r, t) = g.files();
            read.extend(r);
            tests.extend(t);
            for cycle in g.cycles() {
                let _ = write!(
                    report,
                    "{krate} ({}): {}",
                    root.display(),
                    g.describe(&cycle)
                );
            }
        }
        // A file the reader did not reach would be a module this check never saw.
        for file in rust_files(&src) {
            assert!(
                read.contains(&file) || tests.contains(&file),
                "{}: no module of {krate} is in this file",
                file.display()
            );
        }
    }
    assert_eq!(
        roots, 7,
        "lib.rs and main.rs of the functions, lib.rs of the libraries"
    );
    assert!(
        report.is_empty(),
        "module circles in the product crates:\n{report}"
    );
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}
