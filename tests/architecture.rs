//! The shape of the crate, checked: the pure core never names `worker::`, and the
//! Cloudflare side has no module cycle (handlers never import the dispatcher; the leaf
//! modules import no handler).

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The file's code, without comments (doc comments may name `worker::` to explain).
fn code(path: &Path) -> String {
    fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_worker_types_outside_src_cf() {
    let cf = src().join("cf");
    let offenders: Vec<_> = rust_files(&src())
        .into_iter()
        .filter(|p| !p.starts_with(&cf))
        .filter(|p| code(p).contains("worker::"))
        .collect();
    assert!(offenders.is_empty(), "worker:: outside src/cf: {offenders:?}");
}

#[test]
fn the_cf_modules_import_each_other_in_one_direction_only() {
    let cf = src().join("cf");
    // Who may not be named by whom: leaves name no handler and no dispatcher; handlers
    // and adapters never name the dispatcher; adapters never name a handler.
    let rules: &[(&str, &[&str])] = &[
        ("http.rs", &["handlers", "cf::app", "super::app", "context"]),
        ("context.rs", &["handlers", "cf::app", "super::app"]),
        ("handlers", &["cf::app", "super::app"]),
        ("adapters", &["handlers", "cf::app", "super::app", "cf::http", "cf::context"]),
    ];
    for (place, forbidden) in rules {
        let files = if place.ends_with(".rs") { vec![cf.join(place)] } else { rust_files(&cf.join(place)) };
        assert!(!files.is_empty(), "{place}");
        for file in files {
            let text = code(&file);
            for name in *forbidden {
                let uses = text.lines().any(|l| l.contains("use ") && l.contains(name) || l.contains(&format!("crate::{name}::")));
                assert!(!uses, "{} names {name}", file.display());
            }
        }
    }
}
