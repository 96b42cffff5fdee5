//! The committed OpenAPI document matches the code, and the docs page is served from the
//! binary.

use crate::helpers::{Backend, TestApp, TestResult};

#[test]
fn committed_openapi_document_is_current() -> TestResult {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))?;
    assert!(
        committed == tokend::http::openapi::document(),
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
    Ok(())
}

#[test]
fn document_is_openapi_3_1_with_its_four_security_schemes() -> TestResult {
    let doc: serde_json::Value = serde_json::from_str(&tokend::http::openapi::document())?;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let schemes = &doc["components"]["securitySchemes"];
    for scheme in ["session", "service", "token"] {
        assert_eq!(schemes[scheme]["type"], "http", "{scheme}");
        assert_eq!(schemes[scheme]["scheme"], "bearer", "{scheme}");
    }
    assert_eq!(schemes["gateway"]["type"], "apiKey");
    assert_eq!(schemes["gateway"]["in"], "header");
    assert_eq!(schemes["gateway"]["name"], "Tokend-Gateway");
    let put = &doc["paths"]["/v1/directory/organizations/{id}"]["put"];
    assert_eq!(put["security"][0]["service"], serde_json::json!([]));
    let forward = &doc["paths"]["/v1/forward-auth"]["get"];
    assert_eq!(
        forward["security"],
        serde_json::json!([{"gateway": [], "token": []}, {"gateway": []}])
    );
    Ok(())
}

#[actix_web::test]
async fn openapi_json_and_docs_are_served_without_network() -> TestResult {
    let Some(app) = TestApp::spawn(Backend::Sqlite)? else {
        return Ok(());
    };
    let served = app.client.get(app.url("/openapi.json")).send().await?;
    assert_eq!(served.status(), 200);
    let served: serde_json::Value = served.json().await?;
    let expected: serde_json::Value = serde_json::from_str(&tokend::http::openapi::document())?;
    assert_eq!(served, expected);

    let page = app.client.get(app.url("/docs/")).send().await?;
    assert_eq!(page.status(), 200);
    let html = page.text().await?;
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "the page loads nothing from the network"
    );
    let init = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await?
        .text()
        .await?;
    assert!(init.contains("/openapi.json"), "{init}");
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    ] {
        let response = app
            .client
            .get(app.url(&format!("/docs/{asset}")))
            .send()
            .await?;
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.bytes().await?.len() > 1000, "{asset} is embedded");
    }
    Ok(())
}

/// Every error an operation declares is what the server sends: `application/problem+json`
/// with the `Problem` schema.
#[test]
fn every_error_is_declared_as_problem_json() -> TestResult {
    let doc: serde_json::Value = serde_json::from_str(&tokend::http::openapi::document())?;
    let mut errors = 0;
    for (path, operations) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in operations.as_object().into_iter().flatten() {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                errors += 1;
                let content = response["content"].as_object();
                assert_eq!(
                    content.map(|c| c.keys().collect::<Vec<_>>()),
                    Some(vec![&"application/problem+json".to_owned()]),
                    "{method} {path} {status}"
                );
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
            }
        }
    }
    assert!(errors > 100, "{errors} error responses");
    Ok(())
}

/// Every operation that takes a body declares what reading it can answer: 400, 413 and 415.
#[test]
fn every_body_route_declares_its_reading_errors() -> TestResult {
    let doc: serde_json::Value = serde_json::from_str(&tokend::http::openapi::document())?;
    let mut bodies = 0;
    for (path, operations) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in operations.as_object().into_iter().flatten() {
            if operation.get("requestBody").is_none() {
                continue;
            }
            bodies += 1;
            for status in ["400", "413", "415"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} does not declare {status}"
                );
            }
        }
    }
    assert!(bodies >= 15, "{bodies} operations with a body");
    Ok(())
}

/// Every schema and every property says what it means in more than a word or two, and every
/// property shows an example (its own, or its referenced schema's), so that a client generated
/// from the document documents itself (DESIGN §9).
#[test]
fn every_property_is_described_with_an_example() -> TestResult {
    let doc: serde_json::Value = serde_json::from_str(&tokend::http::openapi::document())?;
    let schemas = doc["components"]["schemas"]
        .as_object()
        .ok_or("no component schemas")?;
    let described = |value: &serde_json::Value| {
        value["description"]
            .as_str()
            .is_some_and(|text| text.split_whitespace().count() >= 3)
    };
    let shows_example = |value: &serde_json::Value| {
        value.get("example").is_some() || value.get("examples").is_some()
    };
    let mut gaps = Vec::new();
    let mut properties = 0;
    for (name, schema) in schemas {
        if !described(schema) {
            gaps.push(format!("{name}: {}", schema["description"]));
        }
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            properties += 1;
            let referenced = property["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .and_then(|r| schemas.get(r));
            let example = shows_example(property)
                || referenced.is_some_and(|r| shows_example(r) || r.get("enum").is_some());
            if !described(property) || !example {
                gaps.push(format!("{name}.{field}: {}", property["description"]));
            }
        }
    }
    assert!(properties > 150, "{properties} properties");
    assert!(gaps.is_empty(), "{} gaps:\n{}", gaps.len(), gaps.join("\n"));
    Ok(())
}
