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

/// Every `curl` line of the README, sent as written (its method, path, headers and body
/// file) to the real server: each answers 200, so a new user's first calls work.
#[test]
fn every_curl_example_in_the_readme_answers() {
    let root = root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("read README.md");
    let app = crate::helpers::spawn_app();
    let mut sent = 0;
    for line in readme
        .lines()
        .filter(|l| l.trim_start().starts_with("curl "))
    {
        // Split on spaces, keeping quoted words whole (the examples quote headers only).
        let mut words = Vec::new();
        let mut rest = line.trim();
        while !rest.is_empty() {
            let (word, next) = match rest.strip_prefix('\'') {
                Some(quoted) => quoted.split_once('\'').expect("a closed quote"),
                None => rest.split_once(' ').unwrap_or((rest, "")),
            };
            words.push(word.to_owned());
            rest = next.trim_start();
        }
        let mut method = "GET".to_owned();
        let mut url = None;
        let mut headers = Vec::new();
        let mut body = None;
        let mut i = 1;
        while i < words.len() {
            match words[i].as_str() {
                "-s" => {}
                "-X" => {
                    i += 1;
                    method = words[i].clone();
                }
                "-H" => {
                    i += 1;
                    let (k, v) = words[i].split_once(": ").expect("a header");
                    headers.push((k.to_owned(), v.to_owned()));
                }
                "--data-binary" => {
                    i += 1;
                    let file = words[i].strip_prefix('@').expect("a body file");
                    body = Some(std::fs::read(root.join(file)).expect("the body file exists"));
                }
                word if word.starts_with("localhost:8080") => url = Some(word.to_owned()),
                other => panic!("a curl option the test does not know: {other} in {line}"),
            }
            i += 1;
        }
        let path = url
            .expect("a URL")
            .trim_start_matches("localhost:8080")
            .to_owned();
        let mut request = ureq::request(&method, &format!("{}{path}", app.address));
        for (k, v) in &headers {
            request = request.set(k, v);
        }
        let reply = crate::helpers::reply(match body {
            Some(bytes) => request.send_bytes(&bytes),
            None => request.call(),
        });
        assert_eq!(reply.status, 200, "{line}: {:?}", reply.body);
        sent += 1;
    }
    assert!(
        sent >= 6,
        "the README shows a call for each route ({sent} found)"
    );
}
