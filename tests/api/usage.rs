//! Usage tracking: counted in memory, written in batches, flushed at shutdown.

use serde_json::{Value, json};

use crate::fixtures::{Directory, introspect, introspector, personal, session};
use crate::helpers::{TestApp, TestResult};
use crate::on_both_backends;

mod periodic {
    use super::*;
    on_both_backends!(settings = &[("TOKEND_USAGE_FLUSH_INTERVAL_MS", "100")]; introspections_are_counted_per_ip_and_day);
}

mod at_shutdown {
    use super::*;
    on_both_backends!(settings = &[("TOKEND_USAGE_FLUSH_INTERVAL_MS", "600000")]; a_graceful_shutdown_flushes_pending_counts);
}

async fn usage(app: &TestApp, token_id: &str) -> TestResult<Value> {
    let response = app
        .client
        .get(app.url(&format!("/v1/tokens/{token_id}/usage")))
        .bearer_auth(session("member")?)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    Ok(response.json().await?)
}

async fn introspections_are_counted_per_ip_and_day(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let (token, value) = personal(&app, "member", "used", &["acme"], &["read"]).await?;
    let id = token["id"].as_str().unwrap_or_default().to_owned();
    for ip in [
        "203.0.113.7",
        "203.0.113.7",
        "203.0.113.7",
        "198.51.100.9",
        "198.51.100.9",
    ] {
        assert_eq!(
            introspect(&app, &gateway, &json!({"token": value, "client_ip": ip})).await?["active"],
            true
        );
    }
    // Inactive answers are not uses.
    introspect(
        &app,
        &gateway,
        &json!({"token": value, "organization_id": "nowhere"}),
    )
    .await?;

    let mut seen = json!(null);
    for _ in 0..50 {
        seen = usage(&app, &id).await?;
        if seen["usage_count"] == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen["usage_count"], 5, "{seen}");
    assert_eq!(seen["last_used_ip"], "198.51.100.9");
    assert!(seen["last_used_at"].is_string());
    let ips: Vec<(String, i64)> = seen["recent_ips"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    (
                        e["ip"].as_str().unwrap_or_default().to_owned(),
                        e["count"].as_i64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        ips,
        [
            ("198.51.100.9".to_owned(), 2),
            ("203.0.113.7".to_owned(), 3)
        ]
    );
    assert!(
        seen["recent_ips"]
            .as_array()
            .is_some_and(|l| l.iter().all(|e| e["last_seen_at"].is_string()))
    );
    let daily = seen["daily"].as_array().cloned().unwrap_or_default();
    assert_eq!(daily.len(), 90);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(
        daily
            .last()
            .map(|d| (d["date"].clone(), d["count"].clone())),
        Some((json!(today), json!(5)))
    );
    assert!(daily[..89].iter().all(|d| d["count"] == 0));

    let resource: Value = app
        .client
        .get(app.url(&format!("/v1/tokens/{id}")))
        .bearer_auth(session("member")?)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        (
            resource["usage_count"].clone(),
            resource["last_used_at"].clone()
        ),
        (seen["usage_count"].clone(), seen["last_used_at"].clone())
    );
    let foreign = app
        .client
        .get(app.url(&format!("/v1/tokens/{id}/usage")))
        .bearer_auth(session("viewer")?)
        .send()
        .await?;
    assert_eq!(foreign.status(), 404);
    Ok(())
}

async fn a_graceful_shutdown_flushes_pending_counts(mut app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let (token, value) = personal(&app, "member", "used", &["acme"], &["read"]).await?;
    let id = token["id"].as_str().unwrap_or_default().to_owned();
    for _ in 0..3 {
        introspect(&app, &gateway, &json!({"token": value})).await?;
    }
    let me = app
        .client
        .get(app.url("/v1/me"))
        .bearer_auth(&value)
        .send()
        .await?;
    assert_eq!(me.status(), 200);
    assert_eq!(
        usage(&app, &id).await?["usage_count"],
        0,
        "nothing is written before a flush"
    );

    app.restart_with(&[("TOKEND_USAGE_FLUSH_INTERVAL_MS", "600000")])
        .await?;
    let flushed = usage(&app, &id).await?;
    assert_eq!(flushed["usage_count"], 4, "{flushed}");
    assert_eq!(flushed["recent_ips"][0]["ip"], "127.0.0.1");
    Ok(())
}
