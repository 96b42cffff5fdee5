//! Paging is exact on every list (`GET /v1/tokens`, `GET /v1/organizations/{org_id}/tokens`,
//! `GET /v1/audit-events`, `GET /v1/service-tokens`): walking forwards with `after` to the end and back with `before`
//! from the last page's `start_cursor` gives the same pages (same ids, same order, same
//! `page_info`), and together they hold every item once, newest first. The items are created
//! in one quick transaction so that several share a millisecond, and five of them around the
//! end of the first page share one stored time exactly, so that only the id orders them there.
//! A cursor (microseconds) that does not equal the stored time lands on the wrong side of its
//! own item: `before` returns the item again, `after` skips the items tied with it.

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use diesel::prelude::*;
use serde_json::{Value, json};
use tokend::audit::{self, Actor, Event, RequestContext};
use tokend::error::ApiError;
use tokend::tokens::issue::{self, Spec};
use tokend::tokens::kind::{OwnerType, TokenKind};

use crate::fixtures::{Directory, session};
use crate::helpers::{TestApp, TestResult};
use crate::on_both_backends;

on_both_backends!(
    own_tokens_page_back_exactly,
    an_admins_own_list_merges_their_tokens_with_the_organizations,
    organization_tokens_page_back_exactly,
    audit_events_page_back_exactly,
    service_tokens_page_back_exactly
);

/// Items created per list: three pages of `LIMIT`, the last one short.
const ITEMS: usize = 25;
/// Page size.
const LIMIT: usize = 10;

/// Creates `ITEMS` personal tokens of `member` in `acme` in one transaction, then the
/// `token.created` event `POST /v1/tokens` writes for each, as fast as the library goes (so that
/// several share a millisecond); returns the token ids, oldest first.
fn create_densely(app: &TestApp) -> TestResult<Vec<String>> {
    create_densely_as(app, |_| (TokenKind::Personal, OwnerType::User, "member"))
}

/// [`create_densely`] with the kind and owner of each token by its index.
fn create_densely_as(
    app: &TestApp,
    owner: impl Fn(usize) -> (TokenKind, OwnerType, &'static str),
) -> TestResult<Vec<String>> {
    let state = app.state()?;
    let settings = &state.settings;
    let mut conn = app.connection()?;
    let context = RequestContext::cli();
    let actor = Actor::user("member");
    let scopes = ["read".to_owned()];
    let orgs = ["acme".to_owned()];
    let ids = diesel::Connection::transaction(&mut conn, |conn| {
        let ids = (0..ITEMS)
            .map(|i| {
                let (kind, owner_type, owner_id) = owner(i);
                let (row, _) = issue::issue(
                    conn,
                    &settings.peppers,
                    &settings.prefixes,
                    &Spec {
                        kind,
                        name: &format!("t{i:02}"),
                        description: None,
                        scopes: &scopes,
                        organization_ids: &orgs,
                        project_ids: &[],
                        owner_type,
                        owner_id,
                        created_by: Some("member"),
                        expires_at: None,
                    },
                )?;
                Ok(row.id)
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        for id in &ids {
            audit::record(
                conn,
                &context,
                &Event {
                    event_type: "token.created",
                    actor: &actor,
                    token_id: Some(id),
                    organization_id: Some("acme"),
                    detail: Some(json!({"kind": "personal", "scopes": scopes})),
                },
            )?;
        }
        Ok::<_, ApiError>(ids)
    })?;
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ITEMS, "{ids:?}");
    Ok(ids)
}

/// The tokens made to share one stored `created_at` (that of the middle one), so that only the
/// id orders them where the first page ends: newest first they are items 8 to 12 (from 0), and
/// the first page ends after item 9.
fn tied(ids: &[String]) -> (&String, &[String]) {
    (
        &ids[ITEMS - LIMIT - 1],
        &ids[ITEMS - LIMIT - 3..ITEMS - LIMIT + 2],
    )
}

/// Gives the [`tied`] tokens the stored `created_at` of the middle one (copied as stored),
/// in `tokens` and in the copy their organization authorizations keep.
fn tie_tokens(app: &TestApp, ids: &[String]) -> TestResult {
    use tokend::db::schema::{token_organizations, tokens};
    let (middle, group) = tied(ids);
    let mut conn = app.connection()?;
    let at: NaiveDateTime = tokens::table
        .find(middle)
        .select(tokens::created_at)
        .first(&mut conn)?;
    let changed = diesel::update(tokens::table.filter(tokens::id.eq_any(group)))
        .set(tokens::created_at.eq(at))
        .execute(&mut conn)?;
    assert_eq!(changed, group.len());
    diesel::update(token_organizations::table.filter(token_organizations::token_id.eq_any(group)))
        .set(token_organizations::token_created_at.eq(at))
        .execute(&mut conn)?;
    Ok(())
}

/// Gives the `token.created` events of the [`tied`] tokens the stored `created_at` of the
/// middle one's event (copied as stored).
fn tie_events(app: &TestApp, ids: &[String]) -> TestResult {
    use tokend::db::schema::audit_events;
    let (middle, group) = tied(ids);
    let mut conn = app.connection()?;
    let at: NaiveDateTime = audit_events::table
        .filter(audit_events::token_id.eq(middle))
        .select(audit_events::created_at)
        .first(&mut conn)?;
    let changed = diesel::update(audit_events::table.filter(audit_events::token_id.eq_any(group)))
        .set(audit_events::created_at.eq(at))
        .execute(&mut conn)?;
    assert_eq!(changed, group.len());
    Ok(())
}

/// One page of `path` with `query` as `credential` (200 expected).
async fn page(app: &TestApp, credential: &str, path: &str, query: &str) -> TestResult<Value> {
    let response = app
        .client
        .get(app.url(&format!("{path}?limit={LIMIT}{query}")))
        .bearer_auth(credential)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    assert_eq!(status, 200, "{path}?{query}: {body}");
    Ok(body)
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn cursor(page: &Value, which: &str) -> TestResult<String> {
    Ok(page["page_info"][which]
        .as_str()
        .ok_or_else(|| format!("no {which}: {page}"))?
        .to_owned())
}

/// The sort key of an item as the API shows it.
fn key(item: &Value) -> TestResult<(DateTime<FixedOffset>, String)> {
    let created_at = item["created_at"].as_str().unwrap_or_default();
    Ok((
        DateTime::parse_from_rfc3339(created_at).map_err(|e| format!("{created_at}: {e}"))?,
        item["id"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// Walks `path` forwards with `after` to the end, then back with `before` from the last page's
/// `start_cursor`, checking every page both ways; returns every item, newest first.
async fn walk(app: &TestApp, credential: &str, path: &str) -> TestResult<Vec<Value>> {
    let mut forward = vec![page(app, credential, path, "").await?];
    loop {
        let last = &forward[forward.len() - 1];
        if last["page_info"]["has_next_page"] != true {
            break;
        }
        let after = cursor(last, "end_cursor")?;
        forward.push(page(app, credential, path, &format!("&after={after}")).await?);
        assert!(
            forward.len() <= ITEMS,
            "{path}: paging forwards does not end"
        );
    }
    let pages = forward.len();
    assert_eq!(pages, ITEMS.div_ceil(LIMIT), "{path}: pages forwards");
    for (index, page) in forward.iter().enumerate() {
        let size = if index + 1 < pages {
            LIMIT
        } else {
            ITEMS - LIMIT * (pages - 1)
        };
        assert_eq!(
            ids(page).len(),
            size,
            "{path}: page {index} forwards: {page}"
        );
        assert_eq!(page["total_count"], ITEMS, "{path}: page {index} forwards");
        assert_eq!(
            (
                page["page_info"]["has_next_page"].as_bool(),
                page["page_info"]["has_previous_page"].as_bool()
            ),
            (Some(index + 1 < pages), Some(index > 0)),
            "{path}: page {index} forwards: {}",
            page["page_info"]
        );
    }

    // Back from the last page: each page equals the one read forwards, cursors included.
    let mut before = cursor(&forward[pages - 1], "start_cursor")?;
    for index in (0..pages - 1).rev() {
        let back = page(app, credential, path, &format!("&before={before}")).await?;
        assert_eq!(
            ids(&back),
            ids(&forward[index]),
            "{path}: page {index} backwards has other items than forwards"
        );
        assert_eq!(
            back["page_info"], forward[index]["page_info"],
            "{path}: page {index} backwards"
        );
        assert_eq!(back["total_count"], ITEMS, "{path}: page {index} backwards");
        assert_eq!(
            back["items"], forward[index]["items"],
            "{path}: page {index}"
        );
        before = cursor(&back, "start_cursor")?;
    }
    // Nothing is newer than the first page.
    let beyond = page(app, credential, path, &format!("&before={before}")).await?;
    assert_eq!(
        ids(&beyond),
        Vec::<String>::new(),
        "{path}: before the first"
    );
    assert_eq!(
        beyond["page_info"],
        json!({"has_next_page": true, "has_previous_page": false,
            "start_cursor": null, "end_cursor": null}),
        "{path}: before the first"
    );

    let all: Vec<Value> = forward
        .iter()
        .flat_map(|p| p["items"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(id_set(&all, "id").len(), ITEMS, "{path}: every item once");
    for pair in all.windows(2) {
        assert!(
            key(&pair[0])? > key(&pair[1])?,
            "{path}: newest first: {} then {}",
            pair[0],
            pair[1]
        );
    }
    Ok(all)
}

/// The ids of `items`, as a set.
fn id_set(items: &[Value], field: &str) -> BTreeSet<String> {
    items
        .iter()
        .filter_map(|item| item[field].as_str().map(str::to_owned))
        .collect()
}

/// The first page ends inside the [`tied`] group: only the id separates its last item from the
/// next page's first.
fn assert_boundary_tied(path: &str, all: &[Value]) {
    assert_eq!(
        all[LIMIT - 1]["created_at"],
        all[LIMIT]["created_at"],
        "{path}: the first page ends between items created at the same time"
    );
}

async fn own_tokens_page_back_exactly(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let created = create_densely(&app)?;
    tie_tokens(&app, &created)?;
    let listed = walk(&app, &session("member")?, "/v1/tokens").await?;
    assert_boundary_tied("/v1/tokens", &listed);
    assert_eq!(id_set(&listed, "id"), created.into_iter().collect());
    Ok(())
}

/// An admin's own list reads their tokens and their organization's api tokens separately and
/// merges them: alternating owners, with the tie at the first page's end across both.
async fn an_admins_own_list_merges_their_tokens_with_the_organizations(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let created = create_densely_as(&app, |i| {
        if i % 2 == 0 {
            (TokenKind::Personal, OwnerType::User, "admin")
        } else {
            (TokenKind::Api, OwnerType::Organization, "acme")
        }
    })?;
    tie_tokens(&app, &created)?;
    let listed = walk(&app, &session("admin")?, "/v1/tokens").await?;
    assert_boundary_tied("/v1/tokens", &listed);
    assert_eq!(id_set(&listed, "id"), created.into_iter().collect());
    Ok(())
}

async fn organization_tokens_page_back_exactly(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let created = create_densely(&app)?;
    tie_tokens(&app, &created)?;
    let path = "/v1/organizations/acme/tokens";
    let listed = walk(&app, &session("admin")?, path).await?;
    assert_boundary_tied(path, &listed);
    assert_eq!(id_set(&listed, "id"), created.into_iter().collect());
    Ok(())
}

async fn audit_events_page_back_exactly(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let created = create_densely(&app)?;
    tie_events(&app, &created)?;
    // The member sees exactly the creations of their tokens.
    let listed = walk(&app, &session("member")?, "/v1/audit-events").await?;
    assert_boundary_tied("/v1/audit-events", &listed);
    assert!(
        listed.iter().all(|e| e["type"] == "token.created"),
        "{listed:?}"
    );
    assert_eq!(id_set(&listed, "token_id"), created.into_iter().collect());
    Ok(())
}

async fn service_tokens_page_back_exactly(app: TestApp) -> TestResult {
    use tokend::db::schema::tokens;
    let operator = app.service_token("operator", &[tokend::auth::Permission::ServiceTokens])?;
    for i in 0..ITEMS - 1 {
        app.service_token(&format!("s{i:02}"), &[tokend::auth::Permission::Introspect])?;
    }
    let created: Vec<String> = tokens::table
        .filter(tokens::kind.eq("service"))
        .order((tokens::created_at.asc(), tokens::id.asc()))
        .select(tokens::id)
        .load(&mut app.connection()?)?;
    assert_eq!(created.len(), ITEMS);
    tie_tokens(&app, &created)?;
    let path = "/v1/service-tokens";
    let listed = walk(&app, &operator, path).await?;
    assert_boundary_tied(path, &listed);
    assert_eq!(id_set(&listed, "id"), created.into_iter().collect());
    Ok(())
}
