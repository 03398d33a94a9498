//! Every document the code, the README or another document points at is in the repository,
//! so nobody needs a file from outside it to understand the code.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.md` files a text names: words ending in `.md`, stripped of quotes and link syntax.
fn named_documents(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || "`()[]<>\"',;:".contains(c))
        .filter(|word| word.ends_with(".md") && word.len() > 3)
        .map(str::to_owned)
        .collect()
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "md") {
            out.push(path);
        }
    }
}

#[test]
fn every_document_named_is_in_the_repository() {
    let root = root();
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    sources(&root.join("src"), &mut files);
    sources(&root.join("docs"), &mut files);
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for name in named_documents(&text) {
            // Reports are written by `train`; they are outputs, not documents to read.
            if name.ends_with("report.md") || name.starts_with("http") {
                continue;
            }
            // Found only inside the repository: `../shared/...` may exist here, not in a clone.
            let inside = root.canonicalize().expect("root");
            let found = [
                file.parent().map(|p| p.join(&name)),
                Some(root.join(&name)),
                Some(root.join("docs").join(&name)),
            ]
            .into_iter()
            .flatten()
            .filter_map(|p| p.canonicalize().ok())
            .any(|p| p.starts_with(&inside));
            if !found {
                missing.push(format!("{} names {name}", file.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documents not in the repository: {missing:#?}"
    );
}
