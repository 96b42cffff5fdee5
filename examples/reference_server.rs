//! The load benchmark's reference servers, built and run in the same benchmark run as tokend:
//! `fixed` answers a fixed JSON body (the HTTP limit of actix-web here); `hashmap` computes the
//! HMAC-SHA256 of the presented token and looks it up in an in-memory `HashMap` of the seeded
//! tokens (the floor for any real introspection).
//!
//! Usage: `cargo run --release --example reference_server -- fixed|hashmap ADDR [TOKENS_FILE]`

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

const KEY: &[u8] = b"reference-server-pepper-0123456789abcdef";
const FIXED: &str = r#"{"active":true,"token_id":"01a2","token_type":"personal","name":"bench","sub":"bench-user","user_id":"bench-user","organization_id":"bench","role":"member","scope":"read write:projects","scopes":["read","write:projects"],"iat":1795393194}"#;

#[derive(Deserialize)]
struct Body {
    token: String,
}

struct Record {
    id: String,
    scopes: Vec<String>,
}

struct Store {
    key: Hmac<Sha256>,
    records: HashMap<[u8; 32], Record>,
}

async fn fixed(_body: web::Bytes) -> HttpResponse {
    // The body is read (as a real handler would), so the connection can be kept alive.
    HttpResponse::Ok()
        .content_type("application/json")
        .body(FIXED)
}

async fn lookup(store: web::Data<Arc<Store>>, body: web::Json<Body>) -> HttpResponse {
    let mut mac = store.key.clone();
    mac.update(body.token.as_bytes());
    let digest: [u8; 32] = mac.finalize().into_bytes().into();
    match store.records.get(&digest) {
        Some(record) => HttpResponse::Ok().json(serde_json::json!({
            "active": true,
            "token_id": record.id,
            "token_type": "personal",
            "sub": "bench-user",
            "organization_id": "bench",
            "scope": record.scopes.join(" "),
            "scopes": record.scopes,
        })),
        None => HttpResponse::Ok().json(serde_json::json!({"active": false})),
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "fixed".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18090".into());
    let store = match args.next() {
        Some(file) => {
            let text = std::fs::read_to_string(file)?;
            let key = Hmac::<Sha256>::new_from_slice(KEY).map_err(std::io::Error::other)?;
            let records = text
                .lines()
                .enumerate()
                .map(|(i, token)| {
                    let mut mac = key.clone();
                    mac.update(token.as_bytes());
                    let digest: [u8; 32] = mac.finalize().into_bytes().into();
                    (
                        digest,
                        Record {
                            id: format!("token-{i}"),
                            scopes: vec!["read".into(), "write:projects".into()],
                        },
                    )
                })
                .collect();
            Arc::new(Store { key, records })
        }
        None => Arc::new(Store {
            key: Hmac::<Sha256>::new_from_slice(KEY).map_err(std::io::Error::other)?,
            records: HashMap::new(),
        }),
    };
    // The same number of workers as tokend in the benchmark (`WORKERS`, default one per core).
    let workers = std::env::var("WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(2);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let app = App::new().app_data(web::Data::new(Arc::clone(&store)));
            if mode == "fixed" {
                app.route("/v1/introspect", web::post().to(fixed))
            } else {
                app.route("/v1/introspect", web::post().to(lookup))
            }
        })
        .workers(workers)
        .bind(addr)?
        .run()
        .await
    })
}
