//! What a request that no route takes is answered: 405 with `Allow` when the path exists with
//! other methods (the methods come from the OpenAPI document, the list of every route), 404
//! otherwise.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use actix_web::{HttpRequest, HttpResponse, ResponseError};

use super::openapi;
use crate::error::ApiError;

/// The methods of every documented path, by its route pattern (`/v1/tokens/{id}`).
static METHODS: LazyLock<BTreeMap<String, String>> = LazyLock::new(|| {
    let document: serde_json::Value =
        serde_json::from_str(&openapi::document()).unwrap_or_default();
    document["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, item)| {
            let mut methods: Vec<String> = item
                .as_object()
                .into_iter()
                .flatten()
                .map(|(method, _)| method.to_ascii_uppercase())
                .collect();
            methods.sort();
            (path.clone(), methods.join(", "))
        })
        .collect()
});

/// Any request no route takes.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let method = req.method().as_str().to_owned();
    let refused = match req.resource_map().match_pattern(req.path()) {
        Some(pattern) => ApiError::MethodNotAllowed {
            method,
            allow: METHODS
                .get(&pattern)
                .cloned()
                .unwrap_or_else(|| "GET".to_owned()),
        },
        None => ApiError::NotFound(format!("no route for {method} {}", req.path())),
    };
    refused.error_response()
}
