//! No circles between the modules of the product crates (functions/ and libs/): the check
//! any reader can repeat, run by `cargo test` (issue 22).
//!
//! Run it alone with `cargo test -p testkit module_graph`. On failure it prints each
//! circle: its modules, their files, and for each import inside it a line that makes it.
//! `MODULE_GRAPH_REPO=/some/checkout` checks another tree (one with functions/ and libs/).
//!
//! Each crate root (`src/lib.rs`, `src/main.rs`) is read with the module tree as rustc
//! sees it: `mod x;` followed to `x.rs` or `x/mod.rs` (or its `#[path]`), inline `mod x
//! { ... }` included, anything under `#[cfg(test)]` left out (tests may reach into their
//! parent). Comments, strings and character literals are skipped. Module A imports B
//! when A's code names a path into B: `use` trees (`use crate::{a, b::c}`, `super::`,
//! `self::`, globs) and paths in code (`crate::x::f()`, `child::T`), resolved to the
//! longest prefix that is a module. A path that stops at the crate root (`crate::Row`) is
//! followed through the root's own imports (`pub use row::Row`) to the module it names:
//! the root is the crate's facade, but a re-export in any other module counts as that
//! module (a child importing what its parent re-exports imports its parent). Paths
//! inside a `macro_rules!` count where the macro is defined.
//!
//! Then Tarjan's algorithm finds the strongly connected components: any with two modules
//! or more is a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The product crates, from the repository root.
pub const PRODUCT_CRATES: &[&str] = &[
    "functions/predict",
    "functions/batch",
    "libs/scoring",
    "libs/store",
    "libs/aws-adapter",
];

// ---------------------------------------------------------------------------------------
// Lexing: identifiers, `::`, strings (their text is needed for `#[path]`) and punctuation.

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    PathSep,
    Punct(char),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    line: usize,
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer {
    c: Vec<char>,
    i: usize,
    line: usize,
    out: Vec<Token>,
}

impl Lexer {
    fn at(&self, k: usize) -> char {
        self.c.get(self.i + k).copied().unwrap_or('\0')
    }

    /// Moves one character on, counting lines.
    fn bump(&mut self) {
        if self.at(0) == '\n' {
            self.line += 1;
        }
        self.i += 1;
    }

    fn skip_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let start = self.i;
        while self.i < self.c.len() && f(self.c[self.i]) {
            self.bump();
        }
        self.c[start..self.i].iter().collect()
    }

    fn push(&mut self, tok: Tok, line: usize) {
        self.out.push(Token { tok, line });
    }

    /// A string whose opening quote is under the cursor, ended by `"` and `hashes` `#`s;
    /// escapes honoured unless raw.
    fn string(&mut self, raw: bool, hashes: usize) {
        let line = self.line;
        let mut s = String::new();
        self.i += 1;
        while self.i < self.c.len() {
            let ch = self.at(0);
            if ch == '"' && (1..=hashes).all(|k| self.at(k) == '#') {
                break;
            }
            if ch == '\\' && !raw {
                s.push(ch);
                self.bump();
            }
            s.push(self.at(0));
            self.bump();
        }
        self.i += 1 + hashes;
        self.push(Tok::Str(s), line);
    }

    /// A character or byte literal whose opening quote is under the cursor.
    fn character(&mut self) {
        self.i += if self.at(1) == '\\' { 3 } else { 2 };
        self.skip_while(|c| c != '\'');
        self.i += 1;
    }
}

fn lex(src: &str) -> Vec<Token> {
    let mut l = Lexer {
        c: src.chars().collect(),
        i: 0,
        line: 1,
        out: Vec::new(),
    };
    while l.i < l.c.len() {
        let (ch, next, line) = (l.at(0), l.at(1), l.line);
        if ch.is_whitespace() {
            l.bump();
        } else if ch == '/' && next == '/' {
            l.skip_while(|c| c != '\n');
        } else if ch == '/' && next == '*' {
            // Block comments nest.
            let mut depth = 0;
            while l.i < l.c.len() {
                let two = (l.at(0), l.at(1));
                if two == ('/', '*') || two == ('*', '/') {
                    depth += if two.0 == '/' { 1 } else { -1 };
                    l.i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    l.bump();
                }
            }
        } else if ch == '"' {
            l.string(false, 0);
        } else if ch == '\'' {
            if next == '\\' || l.at(2) == '\'' {
                l.character();
            } else {
                // A lifetime or a label.
                l.i += 1;
                l.skip_while(is_ident_char);
            }
        } else if is_ident_start(ch) {
            let word = l.skip_while(is_ident_char);
            let hashes = (0..).take_while(|&k| l.at(k) == '#').count();
            match (word.as_str(), l.at(0), l.at(hashes)) {
                ("r" | "br" | "cr", _, '"') => {
                    l.i += hashes;
                    l.string(true, hashes);
                }
                ("r", '#', _) if hashes == 1 => {
                    // A raw identifier: r#type.
                    l.i += 1;
                    let word = l.skip_while(is_ident_char);
                    l.push(Tok::Ident(word), line);
                }
                ("b" | "c", '"', _) => l.string(false, 0),
                ("b", '\'', _) => l.character(),
                _ => l.push(Tok::Ident(word), line),
            }
        } else if ch.is_ascii_digit() {
            // Numbers (with suffixes) cannot start a path.
            l.skip_while(is_ident_char);
        } else if ch == ':' && next == ':' {
            l.push(Tok::PathSep, line);
            l.i += 2;
        } else {
            l.push(Tok::Punct(ch), line);
            l.i += 1;
        }
    }
    l.out
}

// ---------------------------------------------------------------------------------------
// Parsing: the module tree, and the paths each module names.

/// A path as written: `crate`, `self`, `super` or a plain name first.
#[derive(Clone, Debug)]
struct RawPath {
    segs: Vec<String>,
    line: usize,
}

impl RawPath {
    fn text(&self) -> String {
        self.segs.join("::")
    }
}

#[derive(Debug, Default)]
struct Module {
    file: PathBuf,
    /// Names of the items it defines (fn, struct, ..., macro_rules!).
    defines: BTreeSet<String>,
    /// Names its item-level `use` declarations bring in, and from where.
    imports: BTreeMap<String, Vec<String>>,
    /// Its item-level glob imports.
    globs: Vec<Vec<String>>,
    /// Every path it names.
    refs: Vec<RawPath>,
}

/// The module graph of one crate.
#[derive(Debug)]
pub struct Graph {
    /// By path from the crate root, `""` for the root itself.
    modules: BTreeMap<String, Module>,
    /// Files declared only under `#[cfg(test)]`: not read.
    test_files: BTreeSet<PathBuf>,
}

fn key(path: &[String]) -> String {
    path.join("::")
}

fn display(key: &str) -> &str {
    if key.is_empty() {
        "crate"
    } else {
        key
    }
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn punct(t: Option<&Token>, p: char) -> bool {
    matches!(t.map(|t| &t.tok), Some(Tok::Punct(c)) if *c == p)
}

fn opens(t: &Token) -> bool {
    matches!(t.tok, Tok::Punct('{' | '(' | '['))
}

fn closes(t: &Token) -> bool {
    matches!(t.tok, Tok::Punct('}' | ')' | ']'))
}

/// The index just past the bracket that closes the one at `open`.
fn matching(toks: &[Token], open: usize) -> usize {
    let mut depth = 0;
    for (i, t) in toks.iter().enumerate().skip(open) {
        if opens(t) {
            depth += 1;
        } else if closes(t) {
            depth -= 1;
            if depth == 0 {
                return i + 1;
            }
        }
    }
    toks.len()
}

/// `#[cfg(test)]`, `#[cfg(all(test, ...))]`: compiled for tests only.
fn is_cfg_test(attr: &[Token]) -> bool {
    ident(attr.first()) == Some("cfg")
        && attr.iter().any(|t| t.tok == Tok::Ident("test".into()))
        && !attr.iter().any(|t| t.tok == Tok::Ident("not".into()))
}

/// `#[path = "..."]`.
fn path_attr(attr: &[Token]) -> Option<String> {
    match attr {
        [a, eq, Token {
            tok: Tok::Str(p), ..
        }] if ident(Some(a)) == Some("path") && punct(Some(eq), '=') => Some(p.clone()),
        _ => None,
    }
}

/// Past the item (or field, or statement) that starts at `i`: a `;` or `,`, a block that
/// ends it, or the bracket that closes what holds it.
fn skip_item(toks: &[Token], mut i: usize) -> usize {
    let is_let = ident(toks.get(i)) == Some("let");
    while i < toks.len() {
        let t = &toks[i];
        if closes(t) || matches!(t.tok, Tok::Punct(';' | ',')) {
            return if closes(t) { i } else { i + 1 };
        }
        if opens(t) {
            let end = matching(toks, i);
            if punct(toks.get(i), '{') && !is_let {
                // `{ ... };` (a struct literal's end) keeps its `;`.
                return end + usize::from(punct(toks.get(end), ';'));
            }
            i = end;
        } else {
            i += 1;
        }
    }
    i
}

/// The use tree at `i`, appended to `prefix`, into `out` as (path, bound name, glob);
/// returns the index past it.
fn use_tree(
    toks: &[Token],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, Option<String>, bool)>,
) -> usize {
    let mut segs = prefix.to_vec();
    if matches!(toks.get(i).map(|t| &t.tok), Some(Tok::PathSep)) {
        i += 1;
    }
    loop {
        match toks.get(i).map(|t| &t.tok) {
            Some(Tok::Ident(s)) => {
                segs.push(s.clone());
                i += 1;
                if matches!(toks.get(i).map(|t| &t.tok), Some(Tok::PathSep)) {
                    i += 1;
                    continue;
                }
                break;
            }
            Some(Tok::Punct('*')) => {
                out.push((segs, None, true));
                return i + 1;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                while i < toks.len() && !punct(toks.get(i), '}') {
                    let next = use_tree(toks, i, &segs, out);
                    // Never stall on what this reader does not know.
                    i = next.max(i + 1);
                    if punct(toks.get(i), ',') {
                        i += 1;
                    }
                }
                return i + 1;
            }
            _ => return i,
        }
    }
    let mut name = segs.last().cloned();
    if ident(toks.get(i)) == Some("as") {
        name = ident(toks.get(i + 1)).map(str::to_owned);
        i += 2;
    }
    if segs.len() > 1 && segs.last().map(String::as_str) == Some("self") {
        // `a::{self}` is `a`.
        segs.pop();
        if name.as_deref() == Some("self") {
            name = segs.last().cloned();
        }
    }
    out.push((segs, name, false));
    i
}

const ITEM_KEYWORDS: &[&str] = &[
    "fn", "struct", "enum", "trait", "type", "const", "static", "union",
];

/// A module's source to read: its path, the file it is in, and where its `mod x;` files
/// are.
struct Pending {
    path: Vec<String>,
    file: PathBuf,
    child_dir: PathBuf,
}

struct Loader<'r> {
    read: &'r dyn Fn(&Path) -> Option<String>,
    modules: BTreeMap<String, Module>,
    test_files: BTreeSet<PathBuf>,
    pending: Vec<Pending>,
}

impl Loader<'_> {
    /// Reads the body `toks[start..end]` of the module `path` (in `file`).
    fn body(
        &mut self,
        toks: &[Token],
        start: usize,
        end: usize,
        path: &[String],
        file: &Path,
        child_dir: &Path,
    ) {
        let mut m = Module {
            file: file.to_owned(),
            ..Module::default()
        };
        // A file's own body starts at its first token; an inline module's does not.
        let top = start == 0;
        let mut depth = 0usize;
        let mut attrs: Vec<Vec<Token>> = Vec::new();
        let mut i = start;
        while i < end {
            let t = &toks[i];
            if punct(Some(t), '#') {
                // An attribute: `#[...]` kept for the next item, `#![...]` dropped.
                let inner = punct(toks.get(i + 1), '!');
                let open = i + 1 + usize::from(inner);
                if punct(toks.get(open), '[') {
                    let close = matching(toks, open);
                    if !inner {
                        attrs.push(toks[open + 1..close - 1].to_vec());
                    }
                    i = close;
                    continue;
                }
            }
            if ident(Some(t)) == Some("pub") {
                // `pub(crate)`: the attributes are the item's that follows.
                i += 1;
                if punct(toks.get(i), '(') {
                    i = matching(toks, i);
                }
                continue;
            }
            let item_attrs = std::mem::take(&mut attrs);
            if item_attrs.iter().any(|a| is_cfg_test(a)) {
                if ident(Some(t)) == Some("mod") && punct(toks.get(i + 2), ';') {
                    if let Some(name) = ident(toks.get(i + 1)) {
                        let files = self.candidates(name, &item_attrs, file, child_dir, top);
                        let found = files.into_iter().find(|f| (self.read)(f).is_some());
                        self.test_files.extend(found);
                    }
                }
                i = skip_item(toks, i);
                continue;
            }
            match &t.tok {
                Tok::Ident(w) if w == "mod" && depth == 0 => {
                    if let Some(name) = ident(toks.get(i + 1)).map(str::to_owned) {
                        let mut child = path.to_vec();
                        child.push(name.clone());
                        if punct(toks.get(i + 2), '{') {
                            let close = matching(toks, i + 2);
                            self.body(toks, i + 3, close - 1, &child, file, &child_dir.join(&name));
                            i = close;
                        } else {
                            let found = self
                                .candidates(&name, &item_attrs, file, child_dir, top)
                                .into_iter()
                                .find(|f| (self.read)(f).is_some());
                            let Some(found) = found else {
                                panic!("{}: mod {name}: no file found", file.display())
                            };
                            // A mod.rs, or a file named by `#[path]`, holds its children
                            // beside it; x.rs holds them in x/.
                            let beside = found.file_name().is_some_and(|f| f == "mod.rs")
                                || item_attrs.iter().any(|a| path_attr(a).is_some());
                            let dir = if beside {
                                found.parent().unwrap_or(Path::new("")).to_owned()
                            } else {
                                child_dir.join(&name)
                            };
                            self.pending.push(Pending {
                                path: child,
                                file: found,
                                child_dir: dir,
                            });
                            i += 3;
                        }
                        continue;
                    }
                    i += 1;
                }
                Tok::Ident(w) if w == "use" => {
                    let mut trees = Vec::new();
                    let next = use_tree(toks, i + 1, &[], &mut trees);
                    for (segs, name, glob) in trees {
                        m.refs.push(RawPath {
                            segs: segs.clone(),
                            line: t.line,
                        });
                        if depth == 0 {
                            if glob {
                                m.globs.push(segs);
                            } else if let Some(name) = name {
                                m.imports.insert(name, segs);
                            }
                        }
                    }
                    i = next.max(i + 1);
                }
                Tok::Ident(w) if w == "macro_rules" && punct(toks.get(i + 1), '!') => {
                    if let Some(name) = ident(toks.get(i + 2)) {
                        m.defines.insert(name.to_owned());
                    }
                    i += 3;
                }
                Tok::Ident(w) if depth == 0 && ITEM_KEYWORDS.contains(&w.as_str()) => {
                    if let Some(name) = ident(toks.get(i + 1)) {
                        m.defines.insert(name.to_owned());
                    }
                    i += 1;
                }
                Tok::Ident(first)
                    if matches!(toks.get(i + 1).map(|t| &t.tok), Some(Tok::PathSep))
                        // `a::b` in `x::a::b` was read with `x`.
                        && !matches!(i.checked_sub(1).map(|p| &toks[p].tok), Some(Tok::PathSep)) =>
                {
                    let mut segs = vec![first.clone()];
                    let mut j = i + 1;
                    while matches!(toks.get(j).map(|t| &t.tok), Some(Tok::PathSep)) {
                        match ident(toks.get(j + 1)) {
                            Some(s) => segs.push(s.to_owned()),
                            None => break,
                        }
                        j += 2;
                    }
                    m.refs.push(RawPath { segs, line: t.line });
                    i = j;
                }
                _ => {
                    if opens(t) {
                        depth += 1;
                    } else if closes(t) {
                        depth = depth.saturating_sub(1);
                    }
                    i += 1;
                }
            }
        }
        self.modules.insert(key(path), m);
    }

    /// The files `mod name;` may be in.
    fn candidates(
        &self,
        name: &str,
        attrs: &[Vec<Token>],
        file: &Path,
        child_dir: &Path,
        top: bool,
    ) -> Vec<PathBuf> {
        if let Some(p) = attrs.iter().find_map(|a| path_attr(a)) {
            // At a file's top level, `#[path]` is relative to the file's directory.
            let base = if top {
                file.parent().unwrap_or(Path::new(""))
            } else {
                child_dir
            };
            return vec![base.join(p)];
        }
        vec![
            child_dir.join(format!("{name}.rs")),
            child_dir.join(name).join("mod.rs"),
        ]
    }
}

impl Graph {
    /// The module graph of the crate whose root file is `root`, reading files with
    /// `read` (the file system, or snippets in tests).
    pub fn load(root: &Path, read: &dyn Fn(&Path) -> Option<String>) -> Graph {
        let mut loader = Loader {
            read,
            modules: BTreeMap::new(),
            test_files: BTreeSet::new(),
            pending: vec![Pending {
                path: Vec::new(),
                file: root.to_owned(),
                child_dir: root.parent().unwrap_or(Path::new("")).to_owned(),
            }],
        };
        while let Some(p) = loader.pending.pop() {
            let src = (loader.read)(&p.file)
                .unwrap_or_else(|| panic!("cannot read {}", p.file.display()));
            let toks = lex(&src);
            loader.body(&toks, 0, toks.len(), &p.path, &p.file, &p.child_dir);
        }
        Graph {
            modules: loader.modules,
            test_files: loader.test_files,
        }
    }

    /// The crate at `root` (its lib.rs or main.rs) on disk.
    pub fn load_file(root: &Path) -> Graph {
        Graph::load(root, &|p: &Path| std::fs::read_to_string(p).ok())
    }

    /// Its modules, `""` for the crate root.
    pub fn modules(&self) -> impl Iterator<Item = &str> {
        self.modules.keys().map(String::as_str)
    }

    /// The files read, and those declared for tests only (not read).
    pub fn files(&self) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
        let read = self.modules.values().map(|m| m.file.clone()).collect();
        (read, self.test_files.clone())
    }

    fn is_module(&self, path: &[String]) -> bool {
        self.modules.contains_key(&key(path))
    }

    /// The module `segs`, named in module `from`, leads to; `None` outside the crate.
    fn resolve(&self, from: &[String], segs: &[String], hops: usize) -> Option<String> {
        let first = segs.first()?;
        let (mut cur, mut i) = match first.as_str() {
            "crate" => (Vec::new(), 1),
            "self" => (from.to_vec(), 1),
            "super" => {
                let mut cur = from.to_vec();
                let mut i = 0;
                while segs.get(i).map(String::as_str) == Some("super") {
                    cur.pop()?;
                    i += 1;
                }
                (cur, i)
            }
            name => {
                let mut child = from.to_vec();
                child.push(name.to_owned());
                if !self.is_module(&child) {
                    return None;
                }
                (from.to_vec(), 0)
            }
        };
        while i < segs.len() {
            let mut next = cur.clone();
            next.push(segs[i].clone());
            if !self.is_module(&next) {
                break;
            }
            cur = next;
            i += 1;
        }
        if cur.is_empty() && i < segs.len() && hops < 8 {
            // The root is the crate's facade: what it re-exports is where it comes from.
            let root = &self.modules[""];
            let name = &segs[i];
            if let Some(p) = root.imports.get(name) {
                return self.resolve(&[], p, hops + 1);
            }
            if !root.defines.contains(name) {
                for g in &root.globs {
                    if let Some(t) = self.resolve(&[], g, hops + 1) {
                        let m = &self.modules[&t];
                        if !t.is_empty()
                            && (m.defines.contains(name) || m.imports.contains_key(name))
                        {
                            return Some(t);
                        }
                    }
                }
            }
        }
        Some(key(&cur))
    }

    /// Module -> imported module -> the first line that imports it.
    fn edges(&self) -> BTreeMap<&str, BTreeMap<String, &RawPath>> {
        let mut edges = BTreeMap::new();
        for (k, m) in &self.modules {
            let from: Vec<String> = if k.is_empty() {
                Vec::new()
            } else {
                k.split("::").map(str::to_owned).collect()
            };
            let out: &mut BTreeMap<String, &RawPath> = edges.entry(k.as_str()).or_default();
            for r in &m.refs {
                if let Some(to) = self.resolve(&from, &r.segs, 0) {
                    if to != *k {
                        out.entry(to).or_insert(r);
                    }
                }
            }
        }
        edges
    }

    /// The circles: strongly connected components of two modules or more (Tarjan).
    pub fn cycles(&self) -> Vec<Vec<String>> {
        struct Tarjan<'g> {
            edges: &'g BTreeMap<&'g str, BTreeMap<String, &'g RawPath>>,
            index: BTreeMap<&'g str, usize>,
            low: BTreeMap<&'g str, usize>,
            stack: Vec<&'g str>,
            on_stack: BTreeSet<&'g str>,
            found: Vec<Vec<String>>,
        }
        impl<'g> Tarjan<'g> {
            fn visit(&mut self, v: &'g str) {
                let n = self.index.len();
                self.index.insert(v, n);
                self.low.insert(v, n);
                self.stack.push(v);
                self.on_stack.insert(v);
                let edges: &'g BTreeMap<&'g str, _> = self.edges;
                for w in edges[v].keys() {
                    let Some((&w, _)) = edges.get_key_value(w.as_str()) else {
                        continue;
                    };
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let low = self.low[v].min(self.low[w]);
                        self.low.insert(v, low);
                    } else if self.on_stack.contains(w) {
                        let low = self.low[v].min(self.index[w]);
                        self.low.insert(v, low);
                    }
                }
                if self.low[v] == self.index[v] {
                    let mut component = Vec::new();
                    loop {
                        let w = self.stack.pop().expect("v is on the stack");
                        self.on_stack.remove(w);
                        component.push(w.to_owned());
                        if w == v {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort();
                        self.found.push(component);
                    }
                }
            }
        }
        let edges = self.edges();
        let mut t = Tarjan {
            edges: &edges,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            found: Vec::new(),
        };
        for v in edges.keys() {
            if !t.index.contains_key(v) {
                t.visit(v);
            }
        }
        t.found.sort();
        t.found
    }

    /// A circle as a person reads it: its modules, their files, and the imports inside it.
    pub fn describe(&self, cycle: &[String]) -> String {
        let edges = self.edges();
        let mut s = String::from("circle:\n");
        for k in cycle {
            let m = &self.modules[k];
            let _ = writeln!(s, "  {} ({})", display(k), m.file.display());
            for (to, r) in &edges[k.as_str()] {
                if cycle.contains(to) {
                    let _ = writeln!(
                        s,
                        "    -> {}  at {}:{}: {}",
                        display(to),
                        m.file.display(),
                        r.line,
                        r.text()
                    );
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests;
