//! The route table: every route the API serves, in one place. Each handler is a thin
//! translation from HTTP to the scorers or the registry and back.

pub mod admin;
pub mod console;
pub mod health;
pub mod models;
pub mod scoring;

/// Registers every route (and, through utoipa-actix-web, its OpenAPI part).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(scoring::convert)
        .service(scoring::revenue)
        .service(scoring::segment)
        .service(scoring::score)
        .service(scoring::convert_batch)
        .service(scoring::revenue_batch)
        .service(scoring::segment_batch)
        .service(scoring::score_batch)
        .service(models::models)
        .service(models::model)
        .service(models::model_version)
        .service(health::livez)
        .service(health::readyz)
        .service(health::metrics)
        .service(admin::reload)
        .service(console::index)
        .service(console::script)
        .service(console::style)
        .service(console::icon)
        .service(console::favicon)
        .service(console::report)
        .service(console::version_report);
}
