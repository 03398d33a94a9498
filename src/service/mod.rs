//! `clickstream serve`: the HTTP service over the versioned model files.
//!
//! The models, their answers and the one reload are the model side's
//! ([`crate::inference`]); this layer adds HTTP and the metrics.
//!
//! Layers, lowest first (a module imports only those before it; ARCHITECTURE.md):
//! `settings`, `probe` (the healthcheck client), `observe` (the metrics handle)
//! -> `problem` (the error table) -> `wire` (request and answer bodies) -> `http`
//! (plumbing: bodies, media types, credentials, request logs) -> `scorer` (the single and
//! batch flows) -> `routes` (handlers and the route table) -> this module (the server).

pub mod admission;
pub mod http;
pub mod observe;
pub mod probe;
pub mod problem;
pub mod routes;
pub mod scorer;
pub mod settings;
pub mod wire;

use crate::inference::registry::{CanaryShare, Policy, Registry, Trigger};
use crate::ml::model_file::ModelName;
use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpResponse, HttpServer};
use admission::Admission;
use http::AppState;
use observe::Metrics;
use problem::ApiError;
use settings::{LogFormat, Settings};
use std::net::TcpListener;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "clickstream",
        description = "Scores online-shop sessions while the shopper browses: conversion probability, expected revenue and persona. Errors are application/problem+json (RFC 9457) with a stable `code`; the table of codes follows.",
    ),
    modifiers(&SecuritySchemes, &ErrorTable),
    // The error responses are built from the error table and point at these by name.
    components(schemas(problem::Problem, problem::FieldIssue, wire::OnError)),
    tags(
        (name = "scoring", description = "Answers for sessions"),
        (name = "models", description = "Loaded model versions"),
        (name = "health", description = "Probes for orchestrators"),
        (name = "admin", description = "Operations"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        // Scoring routes need it only when API_KEYS is set: their requirement is optional.
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Key",
                "One of the keys in API_KEYS; not needed when API_KEYS is unset",
            ))),
        );
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Appends the error table to the document's description, so it is written once.
struct ErrorTable;

impl utoipa::Modify for ErrorTable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let table = problem::table_markdown();
        let description = openapi.info.description.get_or_insert_with(String::new);
        description.push_str("\n\n");
        description.push_str(&table);
    }
}

/// A coded field's codes as one line, e.g. `1 trousers, 2 skirts, ...`.
pub fn codes_text(codes: &[(i64, &str)]) -> String {
    codes
        .iter()
        .map(|(code, meaning)| format!("{code} {meaning}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Describes the `text/csv` answers of the batch routes with the columns they are written
/// with.
fn csv_answers(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for (path, columns) in routes::scoring::csv_answers() {
        let Some(RefOr::T(ok)) = openapi
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.responses.responses.get_mut("200"))
        else {
            continue;
        };
        let Some(RefOr::T(csv)) = ok.content.get_mut("text/csv") else {
            continue;
        };
        let header = columns.join(",");
        csv.description = Some(format!(
            "A header row, then one row per session in order. The columns are the JSON answer's fields under the same names{}: `{header}`. Explanations (`explain=true`) have no CSV form and are refused.",
            if path == "/score/batch" {
                ", each nested answer's fields prefixed with its name and a dot (`convert.probability`, `revenue.model_version`), the row's `session_id` standing for theirs"
            } else {
                ""
            }
        ));
        csv.example = Some(serde_json::Value::String(format!("{header}\n")));
    }
}

/// The OpenAPI document of the API, as committed in `openapi/openapi.json` (the key
/// optional on the scoring routes); the server serves [`openapi_served`] at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts()
        .1;
    // The paths and their schemas exist only once the routes are configured: after the
    // modifiers.
    csv_answers(&mut doc);
    doc
}

/// The document `/openapi.json` serves: `base` (the committed document as this server
/// serves it) with the click, session and batch bodies of the default versions being
/// served. While they all read the UCI shop's clicks it is `base`. While the three models'
/// defaults read one shop's schema, `ClickInput`, `SessionInput` and `BatchInput` are that
/// shop's. While they disagree, each shop schema's bodies are added under names of their
/// own (`SessionInput.<schema>`), and each model's routes point at its own (`/score` at
/// convert's, which is what it reads; docs/schema.md).
pub fn openapi_for(
    base: &utoipa::openapi::OpenApi,
    snapshot: &crate::inference::registry::Snapshot,
) -> utoipa::openapi::OpenApi {
    use crate::ml::model_file::Reading;
    use utoipa::openapi::{Ref, RefOr};
    let readings: [(Option<Reading>, &[&str]); 3] = [
        (
            snapshot
                .convert
                .default_version()
                .ok()
                .map(|l| l.reading.clone()),
            &["/convert", "/convert/batch", "/score", "/score/batch"],
        ),
        (
            snapshot
                .revenue
                .default_version()
                .ok()
                .map(|l| l.reading.clone()),
            &["/revenue", "/revenue/batch"],
        ),
        (
            snapshot
                .segment
                .default_version()
                .ok()
                .map(|l| l.reading.clone()),
            &["/segment", "/segment/batch"],
        ),
    ];
    let shops: Vec<_> = readings
        .iter()
        .filter_map(|(r, paths)| Some((r.as_ref()?.shop()?.clone(), *paths)))
        .collect();
    if shops.is_empty() {
        return base.clone();
    }
    let served: Vec<&Reading> = readings.iter().filter_map(|(r, _)| r.as_ref()).collect();
    let agree = served.windows(2).all(|w| w[0].same_clicks(w[1]));
    let mut doc = base.clone();
    let components = doc.components.get_or_insert_with(Default::default);
    for (shop, paths) in &shops {
        let Ok(json) = wire::ShopJson::new(shop.schema.clone()) else {
            continue;
        };
        let suffix = if agree {
            String::new()
        } else {
            let name: String = shop
                .schema
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!(".{name}")
        };
        let [click, session, batch] =
            ["ClickInput", "SessionInput", "BatchInput"].map(|n| format!("{n}{suffix}"));
        let reference = |name: &str| RefOr::Ref(Ref::from_schema_name(name));
        components
            .schemas
            .insert(click.clone(), RefOr::T(json.click_schema()));
        components.schemas.insert(
            session.clone(),
            RefOr::T(json.session_schema(reference(&click))),
        );
        components.schemas.insert(
            batch.clone(),
            RefOr::T(json.batch_schema(reference(&session))),
        );
        let header: Vec<String> = shop.schema.columns.iter().map(|c| c.header()).collect();
        for path in paths.iter() {
            let Some(op) = doc.paths.paths.get_mut(*path).and_then(|i| i.post.as_mut()) else {
                continue;
            };
            let Some(RefOr::T(body)) = op.request_body.as_mut() else {
                continue;
            };
            for (media, content) in body.content.iter_mut() {
                let RefOr::T(content) = content else {
                    continue;
                };
                if media == "text/csv" {
                    content.example =
                        Some(serde_json::Value::String(format!("{}\n", header.join(","))));
                } else if path.ends_with("/batch") {
                    content.schema = Some(reference(&batch));
                } else {
                    content.schema = Some(reference(&session));
                }
            }
        }
    }
    doc
}

/// The document as a server serves it: the scoring and model routes need the API key
/// exactly when keys are configured. Without keys their requirement is dropped (and the
/// `api_key` scheme with it), so `/docs` shows no lock on them; with keys it is required.
/// The admin routes keep the admin token either way. The committed document
/// (`clickstream openapi`) keeps the optional form, `[{}, {"api_key": []}]`, true of both.
pub fn openapi_served(keys_configured: bool) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::SecurityRequirement;
    let mut doc = openapi();
    let key = SecurityRequirement::new("api_key", Vec::<String>::new());
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
        ]
        .into_iter()
        .flatten()
        {
            let Some(security) = op.security.as_mut() else {
                continue;
            };
            if !security.contains(&key) {
                continue;
            }
            if keys_configured {
                *security = vec![key.clone()];
            } else {
                op.security = None;
            }
        }
    }
    if !keys_configured {
        if let Some(components) = doc.components.as_mut() {
            components.security_schemes.remove("api_key");
        }
    }
    doc
}

/// Sets up logging once: JSON lines in production, readable lines on a terminal.
pub fn init_telemetry(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only on a terminal: a log collector reading a pipe would store them.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    // A second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Registers, after the real routes, a catch-all per documented path that answers 405.
fn method_not_allowed(cfg: &mut web::ServiceConfig, allowed: &[(String, String)]) {
    for (path, methods) in allowed {
        let methods = methods.clone();
        cfg.service(
            web::resource(path.as_str()).default_service(web::to(move || {
                let methods = methods.clone();
                async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(methods)) }
            })),
        );
    }
}

/// The listening socket, with `LISTEN_BACKLOG` as its queue: std's `TcpListener::bind`
/// fixes the queue at 128, and actix's own `backlog` applies only to sockets it binds, so
/// a burst of a few hundred connections had SYNs dropped and retried a second later.
fn listen(settings: &Settings) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::ToSocketAddrs;
    let address = (settings.host.as_str(), settings.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("the address resolves to nothing"))?;
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // As std and actix do: a restart binds at once despite connections in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    let backlog = i32::try_from(settings.listen_backlog).unwrap_or(i32::MAX);
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// Which versions serve, from the settings (`PIN_<MODEL>`, `CANARY`,
/// `MAX_LOADED_VERSIONS`).
pub fn policy(settings: &Settings) -> Policy {
    Policy {
        pins: ModelName::ALL
            .into_iter()
            .filter_map(|m| Some((m, settings.pin(m)?)))
            .collect(),
        canary: settings.canary.map(|c| {
            (
                c.model,
                CanaryShare {
                    version: c.version,
                    percent: c.percent,
                },
            )
        }),
        max_loaded: settings.max_loaded_versions,
    }
}

/// What every worker shares: the registry over `MODELS_DIR` (empty until its first
/// reload), this server's metrics, and the admission pools.
pub fn app_state(settings: Settings) -> AppState {
    let metrics = Metrics::new();
    AppState {
        registry: Arc::new(Registry::new(&settings.models_dir, policy(&settings))),
        api_keys: settings.api_keys(),
        admission: Admission::new(&settings, &metrics),
        metrics,
        settings: Arc::new(settings),
        shop_bodies: wire::ShopBodies::default(),
    }
}

/// A bound, not yet running server: tests bind port 0 and read the port back.
pub struct Application {
    port: u16,
    server: Server,
    poll_interval: Option<std::time::Duration>,
    state: web::Data<AppState>,
}

impl Application {
    pub fn build(settings: Settings) -> std::io::Result<Application> {
        admission::tune_allocator();
        let state = web::Data::new(app_state(settings));
        observe::reload(&state.registry, &state.metrics, Trigger::Start);
        let settings = state.settings.clone();
        let listener = listen(&settings).map_err(|e| {
            // The OS message alone ("Address already in use") does not say which.
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot listen on {}:{} (HOST, PORT): {e}",
                    settings.host, settings.port
                ),
            )
        })?;
        let port = listener.local_addr()?.port();
        let workers = settings.workers;
        let poll_interval = settings
            .poll_interval_secs
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs);
        let worker_count = workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let connections = settings.connections_per_worker(worker_count);
        // Every documented path answers 405 with `Allow` to a method it does not serve.
        let doc = openapi_served(!state.api_keys.is_empty());
        let allowed: Vec<(String, String)> = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("HEAD", item.head.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter(|(_, served)| *served)
                .map(|(m, _)| m)
                .collect();
                (path.clone(), methods.join(", "))
            })
            .collect();
        let shared = state.clone();
        let server = HttpServer::new(move || {
            let allowed = allowed.clone();
            // The routes read their queries with `http::StrictQuery`; this keeps any other
            // reader's refusal a problem document, not actix's plain text.
            let query_errors = web::QueryConfig::default()
                .error_handler(|e, _| ApiError::invalid("query", e.to_string()).into());
            let path_errors = web::PathConfig::default()
                .error_handler(|e, _| ApiError::RouteNotFound(e.to_string()).into());
            let (app, _) = App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .configure(routes::configure)
                .split_for_parts();
            let base = doc.clone();
            app.app_data(shared.clone())
                .app_data(query_errors)
                .app_data(path_errors)
                // Before Swagger UI's own: the document follows the versions being served.
                .route(
                    "/openapi.json",
                    web::get().to(move |state: web::Data<AppState>| {
                        let doc = openapi_for(&base, &state.registry.snapshot());
                        async move { HttpResponse::Ok().json(doc) }
                    }),
                )
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc.clone()))
                .route(
                    "/docs",
                    web::get().to(|| async {
                        HttpResponse::PermanentRedirect()
                            .insert_header(("Location", "/docs/"))
                            .finish()
                    }),
                )
                .configure(|cfg| method_not_allowed(cfg, &allowed))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::RouteNotFound(
                        "no such route; see /docs for the API".into(),
                    ))
                }))
                .wrap(middleware::from_fn(http::observe_request))
                .wrap(http::security_headers())
        })
        // Past this many open connections a worker stops accepting and the rest wait in
        // the backlog: better than every new connection failing once descriptors run out.
        .max_connections(connections)
        .workers(worker_count)
        .listen(listener)?;
        Ok(Application {
            port,
            server: server.shutdown_timeout(30).run(),
            poll_interval,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT (graceful: in-flight requests finish); SIGHUP rescans
    /// the models folder.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // The handler is in place before "serving" is logged: a SIGHUP sent as soon as the
        // server says it serves must reload, not kill the process (the default action).
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::hangup()) {
                Ok(mut hangups) => {
                    let state = self.state.clone();
                    tokio::spawn(async move {
                        while hangups.recv().await.is_some() {
                            let state = state.clone();
                            // The reload logs and counts itself; a failed worker is all
                            // that is left to report.
                            if let Err(e) = tokio::task::spawn_blocking(move || {
                                observe::reload(&state.registry, &state.metrics, Trigger::Sighup)
                            })
                            .await
                            {
                                tracing::error!(error = %e, "the SIGHUP reload did not finish");
                            }
                        }
                    });
                }
                Err(_) => tracing::warn!("cannot listen for SIGHUP; reload with /admin/reload"),
            }
        }
        tracing::info!(port = self.port, "serving");
        if let Some(every) = self.poll_interval {
            let state = self.state.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(every);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    let state = state.clone();
                    if let Err(e) = tokio::task::spawn_blocking(move || {
                        observe::reload(&state.registry, &state.metrics, Trigger::Poll)
                    })
                    .await
                    {
                        tracing::error!(error = %e, "a polling reload did not finish");
                    }
                }
            });
        }
        self.server.await
    }
}
