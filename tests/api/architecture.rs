//! The layering rule of ARCHITECTURE.md, checked on the sources: a module imports only the
//! layers below its own, nothing below the service names the HTTP stack, and no two files
//! of a folder import each other, however indirectly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crate's modules, lowest first.
const CRATE_LAYERS: &[&str] = &[
    "progress",
    "domain",
    "reader",
    "labels",
    "features",
    "dataset",
    "ml",
    "evaluation",
    "report",
    "scoring",
    "inference",
    "evaluate",
    "offline",
    "train",
    "service",
];

/// The service's modules, lowest first; `service/mod.rs` sits above them all.
const SERVICE_LAYERS: &[&str] = &[
    "settings",
    "probe",
    "observe",
    "problem",
    "admission",
    "wire",
    "http",
    "scorer",
    "routes",
];

/// Names of the HTTP stack, which only the service (and the binary that starts it) may use.
/// Deriving `utoipa::ToSchema` below it is allowed: the answers (`scoring`, `inference`)
/// carry their own schema, which the service's document collects; building a document
/// (`utoipa::openapi`) or a route (`utoipa::path`, `IntoResponses`) is the service's.
const HTTP_NAMES: &[&str] = &[
    "actix_web",
    "actix_",
    "utoipa_actix_web",
    "utoipa_swagger_ui",
    "utoipa::path",
    "utoipa::openapi",
    "IntoResponses",
    "HttpResponse",
    "HttpRequest",
];

/// A source file: its path under `src/` and its code without comments and unit tests.
struct Source {
    path: String,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).expect("a source file reads");
            let path = file
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            Source {
                path,
                code: code_of(&text),
            }
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ lists") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code a file compiles outside its tests: comment lines dropped, and everything from
/// the first `#[cfg(test)]` on (unit tests sit at the end of a file and may reach anywhere).
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segment of every path that starts with `prefix` (`crate::`, `super::`,
/// `crate::service::`), braces expanded one level: `crate::{a, b::c}` gives `a` and `b`.
fn referenced(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + prefix.len()..];
        rest = after;
        // `foo_crate::` or `self::super::` are not this prefix.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name = ident(after);
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The crate module a file belongs to (`None` for the crate root and the binary).
fn crate_module(path: &str) -> Option<&str> {
    match path {
        "lib.rs" | "main.rs" => None,
        _ => Some(
            path.split('/')
                .next()
                .map(|p| p.trim_end_matches(".rs"))
                .unwrap_or(path),
        ),
    }
}

/// Every break of the rules in a set of sources.
fn violations(sources: &[Source]) -> Vec<String> {
    let mut found = Vec::new();
    let rank = |layers: &[&str], name: &str| layers.iter().position(|l| *l == name);
    for s in sources {
        let Some(module) = crate_module(&s.path) else {
            continue;
        };
        let Some(own) = rank(CRATE_LAYERS, module) else {
            found.push(format!("src/{}: module {module} is in no layer", s.path));
            continue;
        };
        for target in referenced(&s.code, "crate::") {
            match rank(CRATE_LAYERS, &target) {
                Some(r) if r > own => found.push(format!(
                    "src/{} ({module}) imports crate::{target}, a higher layer",
                    s.path
                )),
                Some(_) => {}
                None => found.push(format!(
                    "src/{} imports crate::{target}, which is in no layer",
                    s.path
                )),
            }
        }
        if module != "service" {
            for name in HTTP_NAMES {
                if s.code.contains(name) {
                    found.push(format!(
                        "src/{} ({module}) names {name}: only the service speaks HTTP",
                        s.path
                    ));
                }
            }
        }
        if let Some(rest) = s.path.strip_prefix("service/") {
            let Some(own_name) = rest.split('/').next().map(|p| p.trim_end_matches(".rs")) else {
                continue;
            };
            if own_name == "mod" {
                continue;
            }
            let Some(own) = rank(SERVICE_LAYERS, own_name) else {
                found.push(format!(
                    "src/{}: service module {own_name} is in no layer",
                    s.path
                ));
                continue;
            };
            let mut targets = referenced(&s.code, "crate::service::");
            if !rest.contains('/') {
                targets.extend(referenced(&s.code, "super::"));
            }
            for target in targets {
                if rank(SERVICE_LAYERS, &target).is_some_and(|r| r >= own) && target != own_name {
                    found.push(format!(
                        "src/{} (service::{own_name}) imports service::{target}, a layer at or above its own",
                        s.path
                    ));
                }
            }
        }
    }
    found.extend(sibling_cycles(sources));
    found
}

/// Files of one folder that import each other (through `super::` or their folder's full
/// path), directly or not.
fn sibling_cycles(sources: &[Source]) -> Vec<String> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in sources {
        let (dir, file) = s.path.rsplit_once('/').unwrap_or(("", s.path.as_str()));
        let name = file.trim_end_matches(".rs");
        if matches!(name, "mod" | "lib" | "main") {
            continue;
        }
        let edges = graph.entry(format!("{dir}/{name}")).or_default();
        let absolute = format!("crate::{}::", dir.replace('/', "::"));
        let mut targets = referenced(&s.code, "super::");
        if !dir.is_empty() {
            targets.extend(referenced(&s.code, &absolute));
        }
        for target in targets {
            edges.insert(format!("{dir}/{target}"));
        }
    }
    let mut found = Vec::new();
    for start in graph.keys() {
        // Depth-first from each file: reaching the start again is a cycle.
        let mut stack: Vec<Vec<String>> = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().expect("a path is never empty");
            for next in graph.get(last).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(next.clone());
                    found.push(format!("import cycle: {}", cycle.join(" -> ")));
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn modules_import_only_the_layers_below_them() {
    let sources = sources();
    assert!(sources.len() > 20, "the sources were found");
    let found = violations(&sources);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_layer_check_catches_an_import_across_the_rule() {
    let fake = |path: &str, code: &str| Source {
        path: path.into(),
        code: code_of(code),
    };
    let sources = [
        fake("scoring.rs", "use crate::service::wire::ScoreQuery;"),
        fake("ml/classifier.rs", "use actix_web::HttpResponse;"),
        fake("service/observe.rs", "use super::{http, problem};"),
        fake(
            "service/routes/admin.rs",
            "use crate::service::routes::health;",
        ),
        fake("service/routes/health.rs", "use super::admin;"),
        fake("ml/a.rs", "use super::b::B;"),
        fake("ml/b.rs", "use super::a::A;"),
        // Allowed: a comment, a lower layer, a unit test reaching anywhere.
        fake(
            "features.rs",
            "// crate::service\nuse crate::domain::Click;\n#[cfg(test)]\nuse crate::train;",
        ),
    ];
    let found = violations(&sources);
    let expect = [
        "src/scoring.rs (scoring) imports crate::service",
        "src/ml/classifier.rs (ml) names actix_web",
        "src/service/observe.rs (service::observe) imports service::http",
        "import cycle: service/routes/admin -> service/routes/health -> service/routes/admin",
        "import cycle: ml/a -> ml/b -> ml/a",
    ];
    for e in expect {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "{e:?} not among {found:#?}"
        );
    }
    assert!(
        !found.iter().any(|f| f.contains("features.rs")),
        "{found:#?}"
    );
}
