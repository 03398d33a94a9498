//! Per-session costs on the serving path, for a session of 10 clicks: feature extraction,
//! each model's inference, and the whole `/score` handler (in-process, no network).
//! cargo bench --bench scoring

use actix_web::{test, web, App};
use clickstream::domain::{Click, RawClick, Session, SessionId};
use clickstream::features;
use clickstream::inference::registry::Trigger;
use clickstream::ml::classifier::ConvertModel;
use clickstream::ml::model_file::{self, ModelKind};
use clickstream::ml::regressor::RevenueModel;
use clickstream::ml::segment::SegmentModel;
use clickstream::scoring::{self, Visit};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::Path;

fn raw_click(order: i64) -> RawClick {
    let products = [
        "A13", "A16", "B4", "B17", "C56", "P67", "A2", "C10", "B30", "P12",
    ];
    let product = products[(order as usize - 1) % products.len()];
    let category = match &product[..1] {
        "A" => 1,
        "B" => 2,
        "C" => 3,
        _ => 4,
    };
    RawClick {
        year: 2008,
        month: 7,
        day: 3,
        order,
        country: 29,
        page1_main_category: category,
        page2_clothing_model: product.into(),
        colour: 1 + order % 14,
        location: 1 + order % 6,
        model_photography: 1 + order % 2,
        price: 20.0 + (order * 7 % 50) as f64,
        price_2: 1 + order % 2,
        page: 1 + order % 5,
    }
}

fn ten_clicks() -> Session {
    let clicks: Vec<Click> = (1..=10)
        .map(|o| Click::parse(&raw_click(o)).expect("valid click"))
        .collect();
    Session::new(SessionId::parse("bench").expect("id"), clicks)
        .expect("valid session")
        .0
}

fn benches(c: &mut Criterion) {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let shipped = "the shipped models load";
    let convert = model_file::load_version::<ConvertModel>(&models, None).expect(shipped);
    let revenue = model_file::load_version::<RevenueModel>(&models, None).expect(shipped);
    let segment = model_file::load_version::<SegmentModel>(&models, None).expect(shipped);
    let session = ten_clicks();

    // The extraction alone, for a short, a typical and a long session.
    for n in [1, 10, 100] {
        let clicks: Vec<Click> = (1..=n)
            .map(|o| Click::parse(&raw_click(o)).expect("valid click"))
            .collect();
        c.bench_function(&format!("extract: {n}-click session"), |b| {
            b.iter(|| {
                features::extract(
                    features::Plan::uci(),
                    black_box(&clicks),
                    convert.model.products(),
                )
            })
        });
    }
    c.bench_function("convert: 10-click session", |b| {
        b.iter(|| {
            scoring::convert(&convert, black_box(Visit::Uci(&session)), false).expect("scores")
        })
    });
    c.bench_function("convert with explanation: 10-click session", |b| {
        b.iter(|| {
            scoring::convert(&convert, black_box(Visit::Uci(&session)), true).expect("scores")
        })
    });
    c.bench_function("revenue: 10-click session", |b| {
        b.iter(|| scoring::revenue(&revenue, black_box(Visit::Uci(&session))).expect("scores"))
    });
    c.bench_function("segment: 10-click session", |b| {
        b.iter(|| scoring::segment(&segment, black_box(Visit::Uci(&session))).expect("scores"))
    });

    // The full handler path: body parsing, validation, all three models, JSON out.
    let body = serde_json::json!({
        "session_id": "bench",
        "clicks": (1..=10).map(raw_click).collect::<Vec<_>>(),
    })
    .to_string();
    c.bench_function("JSON body to session: 10 clicks", |b| {
        b.iter(|| {
            let input: clickstream::service::wire::SessionInput =
                clickstream::service::wire::from_json(black_box(body.as_bytes()))
                    .expect("a valid body");
            black_box(input.parse("", 1000).expect("valid clicks"))
        })
    });
    let runtime = actix_web::rt::System::new();
    let settings = clickstream::service::settings::Settings::from_vars([(
        "MODELS_DIR".to_string(),
        models.display().to_string(),
    )])
    .expect("valid settings");
    let state = web::Data::new(clickstream::service::app_state(settings));
    clickstream::service::observe::reload(&state.registry, &state.metrics, Trigger::Start);
    let app = runtime.block_on(test::init_service(
        App::new()
            .app_data(state)
            .service(clickstream::service::routes::scoring::score)
            .service(clickstream::service::routes::scoring::convert)
            .service(clickstream::service::routes::health::livez),
    ));
    for route in ["/score", "/convert"] {
        c.bench_function(&format!("POST {route} handler: 10-click session"), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let req = test::TestRequest::post()
                        .uri(route)
                        .insert_header(("Content-Type", "application/json"))
                        .set_payload(body.clone())
                        .to_request();
                    let res = test::call_service(&app, req).await;
                    assert!(res.status().is_success());
                    black_box(test::read_body(res).await)
                })
            })
        });
    }
    // The same harness on a route that does nothing, to tell its cost from the handler's.
    c.bench_function("GET /livez handler (harness baseline)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let req = test::TestRequest::get().uri("/livez").to_request();
                let res = test::call_service(&app, req).await;
                black_box(test::read_body(res).await)
            })
        })
    });
}

criterion_group!(scoring_benches, benches);
criterion_main!(scoring_benches);
