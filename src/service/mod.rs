//! `clickstream serve`: the HTTP service over the versioned model files.

pub mod api;
pub mod batch;
pub mod observe;
pub mod problem;
pub mod registry;
pub mod settings;
pub mod wire;

use actix_web::dev::{Server, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, App, HttpResponse, HttpServer};
use api::AppState;
use problem::ApiError;
use registry::Registry;
use settings::{LogFormat, Settings};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "clickstream",
        description = "Scores online-shop sessions while the shopper browses: conversion probability, expected revenue and persona. Errors are application/problem+json (RFC 9457).",
    ),
    modifiers(&SecuritySchemes),
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
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of the API, as the server serves it at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(api::configure)
        .split_for_parts()
        .1
}

/// Sets up logging once: JSON lines in production, readable lines on a terminal.
pub fn init_telemetry(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
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
                async move {
                    let problem = ApiError::MethodNotAllowed(methods.clone()).problem();
                    HttpResponse::MethodNotAllowed()
                        .insert_header(("Allow", methods))
                        .content_type("application/problem+json")
                        .json(problem)
                }
            })),
        );
    }
}

/// Rescans the models folder, logs what changed and records it in the metrics.
pub fn reload(registry: &Registry, trigger: &str) -> registry::ReloadSummary {
    let summary = registry.reload();
    if trigger == "start"
        || !summary.loaded.is_empty()
        || !summary.failed.is_empty()
        || !summary.unloaded.is_empty()
    {
        tracing::info!(trigger, loaded = ?summary.loaded, failed = ?summary.failed, unloaded = ?summary.unloaded, "models reloaded");
    }
    for failure in &summary.failed {
        tracing::warn!(trigger, failure = %failure, "model version refused");
    }
    observe::reload(trigger, &summary, &registry.snapshot());
    summary
}

/// A bound, not yet running server: tests bind port 0 and read the port back.
pub struct Application {
    port: u16,
    server: Server,
    poll_interval: Option<std::time::Duration>,
    pub registry: Arc<Registry>,
}

impl Application {
    pub fn build(settings: Settings) -> std::io::Result<Application> {
        observe::handle();
        let registry = Arc::new(Registry::new(&settings));
        reload(&registry, "start");
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        let port = listener.local_addr()?.port();
        let workers = settings.workers;
        let poll_interval = settings
            .poll_interval_secs
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs);
        let state = web::Data::new(AppState {
            registry: registry.clone(),
            api_keys: settings.api_keys(),
            settings: Arc::new(settings),
        });
        // Every documented path answers 405 with `Allow` to a method it does not serve.
        let allowed: Vec<(String, String)> = openapi()
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
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
        let mut server = HttpServer::new(move || {
            let allowed = allowed.clone();
            let query_errors = web::QueryConfig::default()
                .error_handler(|e, _| ApiError::invalid("query", e.to_string()).into());
            let path_errors = web::PathConfig::default()
                .error_handler(|e, _| ApiError::NotFound(e.to_string()).into());
            let (app, api) = App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .configure(api::configure)
                .split_for_parts();
            app.app_data(state.clone())
                .app_data(query_errors)
                .app_data(path_errors)
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", api))
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
                    Err::<HttpResponse, _>(ApiError::NotFound(
                        "no such route; see /docs for the API".into(),
                    ))
                }))
                .wrap_fn(|req, srv| {
                    let start = Instant::now();
                    let id = req
                        .headers()
                        .get("X-Request-Id")
                        .and_then(|v| v.to_str().ok())
                        .filter(|v| !v.is_empty() && v.len() <= 128)
                        .map(str::to_owned)
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                    let method = req.method().to_string();
                    let route = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
                    let fut = srv.call(req);
                    async move {
                        let mut res = fut.await?;
                        let status = res.status().as_u16();
                        observe::request(&route, &method, status, start.elapsed().as_secs_f64());
                        let models = res
                            .response()
                            .extensions()
                            .get::<api::ModelVersions>()
                            .map(|v| v.0.clone())
                            .unwrap_or_default();
                        tracing::info!(
                            request_id = %id,
                            method = %method,
                            route = %route,
                            status,
                            latency_ms = start.elapsed().as_secs_f64() * 1000.0,
                            models = %models,
                            "request"
                        );
                        if let Ok(value) = HeaderValue::from_str(&id) {
                            res.headers_mut()
                                .insert(HeaderName::from_static("x-request-id"), value);
                        }
                        Ok(res)
                    }
                })
        })
        .listen(listener)?;
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        Ok(Application {
            port,
            server: server.shutdown_timeout(30).run(),
            poll_interval,
            registry,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT (graceful: in-flight requests finish); SIGHUP rescans
    /// the models folder.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            let registry = self.registry.clone();
            tokio::spawn(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let Ok(mut hangups) = signal(SignalKind::hangup()) else {
                    tracing::warn!("cannot listen for SIGHUP; reload with /admin/reload");
                    return;
                };
                while hangups.recv().await.is_some() {
                    let registry = registry.clone();
                    if let Ok(summary) =
                        tokio::task::spawn_blocking(move || registry.reload()).await
                    {
                        tracing::info!(loaded = ?summary.loaded, failed = ?summary.failed, unloaded = ?summary.unloaded, "reloaded on SIGHUP");
                    }
                }
            });
        }
        if let Some(every) = self.poll_interval {
            let registry = self.registry.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(every);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    let registry = registry.clone();
                    if let Ok(summary) =
                        tokio::task::spawn_blocking(move || registry.reload()).await
                    {
                        if !summary.loaded.is_empty() || !summary.failed.is_empty() {
                            tracing::info!(loaded = ?summary.loaded, failed = ?summary.failed, unloaded = ?summary.unloaded, "reloaded by polling");
                        }
                    }
                }
            });
        }
        self.server.await
    }
}
