//! The server's layers depend downwards only: `app` wires everyone; the case API (`docket`)
//! sits on the HTTP surface (`http`); that reaches the courtroom devices (`courtroom`) and the
//! rooms (`rooms`), which drive the media
//! plane (`sfu`); the hearing rules (`hearing`) are shared below the HTTP surface and the
//! rooms. A module naming one above it (a cycle) would let a change in one leak into the
//! other; these tests keep them apart, and keep the whole library free of cycles.

use std::collections::BTreeSet;
use std::path::Path;

/// From top to bottom: each may name only those after it.
const LAYERS: &[&str] = &[
    "app",
    "docket",
    "http",
    "courtroom",
    "whip",
    "rooms",
    "hearing",
    "sfu",
];

fn files(p: &Path, out: &mut Vec<std::path::PathBuf>) {
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            files(&e.unwrap().path(), out);
        }
    } else if p.is_file() && p.extension().is_some_and(|e| e == "rs") {
        out.push(p.to_owned());
    }
}

/// The leading identifier of `text` (after blanks).
fn ident(text: &str) -> String {
    text.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level modules `source` names through `crate::` (comments left out).
fn named(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            out.insert(ident(rest));
            continue;
        };
        // `crate::{a::X, b::{c, d}}`: the first name of every item at the top of the group.
        let (mut depth, mut start) = (0, 0);
        for (at, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    out.insert(ident(&group[start..at]));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.insert(ident(&group[start..at]));
                    start = at + 1;
                }
                _ => {}
            }
        }
    }
    out.remove("");
    out
}

#[test]
fn each_layer_names_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut upward = Vec::new();
    for (i, layer) in LAYERS.iter().enumerate() {
        let mut all = Vec::new();
        files(&src.join(layer), &mut all);
        files(&src.join(format!("{layer}.rs")), &mut all);
        assert!(!all.is_empty(), "module {layer} moved; update this test");
        for f in all {
            let source = std::fs::read_to_string(&f).unwrap();
            for above in
                named(&source).intersection(&LAYERS[..i].iter().map(|s| s.to_string()).collect())
            {
                upward.push(format!(
                    "{} names crate::{above}",
                    f.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "a layer names one above it:\n{}",
        upward.join("\n")
    );
}

/// The library's top-level modules (from `src/lib.rs`).
fn library_modules(src: &Path) -> Vec<String> {
    std::fs::read_to_string(src.join("lib.rs"))
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_owned())
        .collect()
}

#[test]
fn no_module_depends_on_itself_through_others() {
    use std::collections::BTreeMap;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = library_modules(&src);
    assert!(modules.len() > 10, "src/lib.rs moved; update this test");
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &modules {
        let mut all = Vec::new();
        files(&src.join(m), &mut all);
        files(&src.join(format!("{m}.rs")), &mut all);
        let names = all
            .iter()
            .flat_map(|f| named(&std::fs::read_to_string(f).unwrap()))
            .filter(|n| n != m && modules.contains(n))
            .collect();
        deps.insert(m.clone(), names);
    }
    let mut cycles = Vec::new();
    for m in &modules {
        // Everything `m` reaches; `m` among them is a cycle.
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&String> = deps[m].iter().collect();
        while let Some(n) = todo.pop() {
            if seen.insert(n.clone()) {
                todo.extend(deps[n].iter());
            }
        }
        if seen.contains(m) {
            cycles.push(m.clone());
        }
    }
    assert!(
        cycles.is_empty(),
        "modules on a dependency cycle: {cycles:?} ({deps:?})"
    );
}

#[test]
fn the_import_reader_sees_grouped_and_plain_paths() {
    let names = named("use crate::{a::X, b::{c, d}, e};\nlet x = crate::f::g();\n// crate::h\n");
    let want: BTreeSet<String> = ["a", "b", "e", "f"].map(String::from).into();
    assert_eq!(names, want);
}
