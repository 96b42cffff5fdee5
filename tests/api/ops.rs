//! The operations surface a newcomer meets: the start page at `/` and the metrics text, where
//! every series tokend exports says what it counts.

use crate::fixtures::{introspect, introspector, metrics_text};
use crate::helpers::{TestApp, TestResult, header};
use crate::on_both_backends;

on_both_backends!(the_start_page_links_the_docs, every_metric_has_help_text);

async fn the_start_page_links_the_docs(app: TestApp) -> TestResult {
    let page = app.client.get(app.url("/")).send().await?;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    let html = page.text().await?;
    for link in ["/docs/", "/openapi.json", "/healthz", "/readyz", "/metrics"] {
        assert!(html.contains(&format!("href=\"{link}\"")), "{link}: {html}");
    }
    assert!(html.contains(env!("CARGO_PKG_VERSION")), "{html}");
    for path in ["/docs/", "/openapi.json", "/healthz", "/metrics"] {
        let linked = app.client.get(app.url(path)).send().await?;
        assert_eq!(linked.status(), 200, "{path}");
    }
    Ok(())
}

async fn every_metric_has_help_text(app: TestApp) -> TestResult {
    let gateway = introspector(&app)?;
    introspect(&app, &gateway, &serde_json::json!({"token": "tolp_x"})).await?;
    let text = metrics_text(&app).await?;
    let families: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|name| name.starts_with("tokend_"))
        .collect();
    assert!(families.len() >= 4, "{text}");
    for family in families {
        assert!(
            text.lines()
                .any(|line| line.starts_with(&format!("# HELP {family} "))),
            "{family} has no HELP:\n{text}"
        );
        let unit = ["_total", "_seconds", "_bytes", "_connections", "_entries"];
        assert!(
            unit.iter().any(|u| family.ends_with(u)),
            "{family} names no unit"
        );
    }
    Ok(())
}
