//! The audit listing: one event per action with actor and request id, visibility, filters.

use serde_json::{Value, json};
use tokend::auth::Permission;

use crate::fixtures::{Directory, create_token, personal, session, session_with};
use crate::helpers::{TestApp, TestResult, expect_problem};
use crate::on_both_backends;

on_both_backends!(
    every_action_writes_one_event,
    events_are_visible_to_the_right_callers
);

async fn events(app: &TestApp, credential: &str, query: &str) -> TestResult<Value> {
    let response = app
        .client
        .get(app.url(&format!("/v1/audit-events?{query}")))
        .bearer_auth(credential)
        .send()
        .await?;
    assert_eq!(response.status(), 200, "{query}");
    Ok(response.json().await?)
}

async fn every_action_writes_one_event(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org("secure", json!({"sso_enforced": true})).await?;
    dir.member("secure", "member", "member").await?;
    let jwt = session("member")?;
    let (token, _) = personal(&app, "member", "life", &["acme"], &["read"]).await?;
    let id = token["id"].as_str().unwrap_or_default().to_owned();
    let url = |suffix: &str| app.url(&format!("/v1/tokens/{id}{suffix}"));
    let mut request_ids = Vec::new();
    let mut remember = |response: reqwest::Response| {
        assert!(response.status().is_success(), "{}", response.status());
        request_ids.push(
            response.headers()["x-request-id"]
                .to_str()
                .unwrap_or_default()
                .to_owned(),
        );
    };
    remember(
        app.client
            .patch(url(""))
            .bearer_auth(&jwt)
            .json(&json!({"description": "x"}))
            .send()
            .await?,
    );
    remember(
        app.client
            .post(url("/regenerate"))
            .bearer_auth(&jwt)
            .send()
            .await?,
    );
    remember(
        app.client
            .put(url("/organizations/secure"))
            .bearer_auth(&jwt)
            .send()
            .await?,
    );
    remember(
        app.client
            .post(url("/organizations/secure/sso-authorize"))
            .bearer_auth(session_with("member", &json!({"sso_orgs": ["secure"]}))?)
            .send()
            .await?,
    );
    remember(
        app.client
            .delete(url("/organizations/secure"))
            .bearer_auth(&jwt)
            .send()
            .await?,
    );
    remember(
        app.client
            .post(url("/duplicate"))
            .bearer_auth(&jwt)
            .json(&json!({"name": "copy"}))
            .send()
            .await?,
    );
    remember(
        app.client
            .post(url("/revoke"))
            .bearer_auth(&jwt)
            .send()
            .await?,
    );
    remember(app.client.delete(url("")).bearer_auth(&jwt).send().await?);

    let listed = events(&app, &jwt, &format!("token_id={id}&limit=100")).await?;
    let mut types: Vec<&str> = listed["items"]
        .as_array()
        .map(|i| i.iter().filter_map(|e| e["type"].as_str()).collect())
        .unwrap_or_default();
    types.reverse();
    assert_eq!(
        types,
        [
            "token.created",
            "token.updated",
            "token.regenerated",
            "token.organization_authorized",
            "token.sso_authorized",
            "token.organization_removed",
            "token.revoked",
            "token.deleted",
        ]
    );
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    for event in &items {
        assert_eq!(event["actor"], json!({"type": "user", "id": "member"}));
        assert!(event["request_id"].as_str().is_some_and(|r| !r.is_empty()));
        assert!(event["created_at"].is_string() && event["id"].is_string());
    }
    // Each action's event carries that request's id (the duplicate's event is filed under the
    // copy, checked below).
    let mut logged: Vec<&str> = items
        .iter()
        .filter_map(|e| e["request_id"].as_str())
        .collect();
    logged.reverse();
    let mut expected: Vec<&str> = request_ids.iter().map(String::as_str).collect();
    expected.remove(5);
    assert_eq!(&logged[1..], expected.as_slice());
    let duplicated = events(&app, &jwt, "type=token.duplicated").await?;
    assert_eq!(duplicated["total_count"], 1);
    assert_eq!(duplicated["items"][0]["request_id"], request_ids[5]);
    assert_eq!(duplicated["items"][0]["detail"]["source_token_id"], id);
    Ok(())
}

async fn events_are_visible_to_the_right_callers(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org("gamma", json!({})).await?;
    dir.user("loner", true, false).await?;
    dir.member("gamma", "loner", "member").await?;
    let (mine, value) = personal(&app, "member", "mine", &["acme"], &["read"]).await?;
    personal(&app, "loner", "theirs", &["gamma"], &["read"]).await?;
    create_token(
        &app,
        "admin",
        &json!({"kind": "api", "name": "api", "organization_id": "acme", "scopes": ["read"]}),
    )
    .await?;

    let own = events(&app, &session("member")?, "").await?;
    assert_eq!(own["total_count"], 1);
    assert_eq!(own["items"][0]["token_id"], mine["id"]);
    let theirs = events(&app, &session("loner")?, "").await?;
    assert_eq!(theirs["total_count"], 1);
    assert_ne!(theirs["items"][0]["token_id"], mine["id"]);
    // The admin sees the organization's events (the member's token, their own api token and
    // the directory's changes in acme).
    let admin = events(&app, &session("admin")?, "type=token.created").await?;
    assert_eq!(admin["total_count"], 2);
    let admin_org = events(&app, &session("admin")?, "organization_id=gamma").await?;
    assert_eq!(admin_org["total_count"], 0);

    let auditor = app.service_token("auditor", &[Permission::Audit])?;
    let all = events(&app, &auditor, "limit=2").await?;
    assert!(
        all["total_count"].as_i64().unwrap_or_default() >= 5,
        "{all}"
    );
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));
    let next = all["page_info"]["end_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let second = events(&app, &auditor, &format!("limit=2&after={next}")).await?;
    assert_ne!(second["items"][0]["id"], all["items"][0]["id"]);
    let minted = events(&app, &auditor, "type=service_token.created").await?;
    assert!(
        minted["total_count"].as_i64().unwrap_or_default() >= 2,
        "service tokens are audited as service_token.created: {minted}"
    );
    let future = (chrono::Utc::now() + chrono::TimeDelta::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        events(&app, &auditor, &format!("since={future}")).await?["total_count"],
        0
    );

    let no_audit = app.service_token("gateway", &[Permission::Introspect])?;
    for credential in [no_audit.as_str(), value.as_str()] {
        let response = app
            .client
            .get(app.url("/v1/audit-events"))
            .bearer_auth(credential)
            .send()
            .await?;
        expect_problem(response, 403, "forbidden").await?;
    }
    expect_problem(
        app.client.get(app.url("/v1/audit-events")).send().await?,
        401,
        "unauthenticated",
    )
    .await?;
    assert!(!own.to_string().contains(&value[5..]));
    Ok(())
}

/// Bounded storage (DESIGN §10): the daily prune deletes the events past the retention, in
/// batches, and nothing else.
mod retention {
    use std::collections::BTreeSet;

    use chrono::{NaiveDateTime, TimeDelta};
    use diesel::prelude::*;
    use tokend::audit::retention::{self, Pruned};
    use tokend::db::DbConnection;
    use tokend::db::schema::audit_events;

    use crate::fixtures::{Directory, metric, personal};
    use crate::helpers::{TestApp, TestResult};
    use crate::on_both_backends;

    // The server's own pruner is off: only the prune under test deletes.
    on_both_backends!(
        settings = &[("TOKEND_AUDIT_RETENTION_DAYS", "0")];
        the_prune_removes_only_old_events
    );

    fn insert_event(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<usize> {
        diesel::insert_into(audit_events::table)
            .values((
                audit_events::id.eq(id),
                audit_events::event_type.eq("token.created"),
                audit_events::actor_type.eq("system"),
                audit_events::actor_id.eq("retention-test"),
                audit_events::request_id.eq("retention-test"),
                audit_events::created_at.eq(at),
            ))
            .execute(conn)
    }

    fn event_ids(conn: &mut DbConnection) -> QueryResult<BTreeSet<String>> {
        Ok(audit_events::table
            .select(audit_events::id)
            .load::<String>(conn)?
            .into_iter()
            .collect())
    }

    async fn the_prune_removes_only_old_events(app: TestApp) -> TestResult {
        // Recent events, written by the API.
        Directory::new(&app)?.acme().await?;
        personal(&app, "member", "recent", &["acme"], &["read"]).await?;
        let mut conn = app.connection()?;
        let mut kept = event_ids(&mut conn)?;
        assert!(kept.len() > 5, "{kept:?}");

        let cutoff = retention::cutoff(tokend::time::now(), 30).ok_or("no 30-day cutoff")?;
        // Ten events past a 30-day retention: one a microsecond past it, nine a day apart.
        let mut old = BTreeSet::new();
        for days in 0..10 {
            let id = format!("old-{days}");
            let at = cutoff - TimeDelta::days(days) - TimeDelta::microseconds(1);
            insert_event(&mut conn, &id, at)?;
            old.insert(id);
        }
        // Exactly at the cutoff and a day inside it: kept.
        for (id, at) in [
            ("at-cutoff", cutoff),
            ("inside", cutoff + TimeDelta::days(1)),
        ] {
            insert_event(&mut conn, id, at)?;
            kept.insert(id.to_owned());
        }

        let state = app.state()?;
        let pruned = retention::prune(&state.db, cutoff, 3).await?;
        // 3 + 3 + 3 + 1: more than one batch, the last one short.
        assert_eq!(
            pruned,
            Pruned {
                events: 10,
                batches: 4
            }
        );
        let left = event_ids(&mut conn)?;
        assert_eq!(left, kept, "pruned {:?}", old.intersection(&left));

        // Nothing is left to prune: one empty batch.
        let again = retention::prune(&state.db, cutoff, 3).await?;
        assert_eq!(
            again,
            Pruned {
                events: 0,
                batches: 1
            }
        );
        assert!(metric(&app, "tokend_audit_events_pruned_total").await? >= 10.0);
        Ok(())
    }
}
