//! Token secrets at rest: pepper rotation re-digests, and no value is ever stored.

use std::fmt::Write;

use diesel::prelude::*;
use tokend::auth::Permission;
use tokend::db::schema::{audit_events, token_scopes, tokens};
use tokend::tokens::secret::{Peppers, parse_pepper_list};

use crate::helpers::{TEST_PEPPERS, TestApp, TestResult};
use crate::on_both_backends;

on_both_backends!(
    a_value_under_an_old_pepper_verifies_and_is_re_digested,
    no_token_value_is_stored
);

/// id, name, hint, description, digest of a stored token.
type StoredToken = (String, String, String, Option<String>, Vec<u8>);

const NEXT_PEPPER: &str = "next:next-pepper-secret-0123456789abcdefghijkl";

async fn status_with(app: &TestApp, token: &str) -> TestResult<u16> {
    let response = app
        .client
        .get(app.url("/v1/directory/organizations/acme"))
        .bearer_auth(token)
        .send()
        .await?;
    Ok(response.status().as_u16())
}

fn stored_digest(app: &TestApp) -> TestResult<(String, Vec<u8>)> {
    let mut conn = app.connection()?;
    Ok(tokens::table
        .select((tokens::pepper_id, tokens::digest))
        .first(&mut conn)?)
}

async fn a_value_under_an_old_pepper_verifies_and_is_re_digested(mut app: TestApp) -> TestResult {
    let token = app.service_token("sync", &[Permission::Directory])?;
    assert_eq!(stored_digest(&app)?.0, "current");

    // Rotate: a new current pepper, the old one still configured.
    let rotated = format!("{NEXT_PEPPER},{TEST_PEPPERS}");
    app.restart_with(&[("TOKEND_PEPPERS", &rotated)]).await?;
    assert_eq!(
        status_with(&app, &token).await?,
        404,
        "authenticated (the org is just absent)"
    );

    let (pepper_id, digest) = stored_digest(&app)?;
    assert_eq!(pepper_id, "next");
    let next = Peppers::new(parse_pepper_list(NEXT_PEPPER)?)?;
    assert_eq!(digest, next.digest(&token).to_vec());

    // The old pepper can now be dropped: the token lives on under the new one.
    app.restart_with(&[("TOKEND_PEPPERS", NEXT_PEPPER)]).await?;
    assert_eq!(status_with(&app, &token).await?, 404);
    // A token whose pepper is no longer configured does not verify.
    app.restart_with(&[("TOKEND_PEPPERS", TEST_PEPPERS)])
        .await?;
    assert_eq!(status_with(&app, &token).await?, 401);
    Ok(())
}

async fn no_token_value_is_stored(app: TestApp) -> TestResult {
    let values = [
        app.service_token("one", &[Permission::Directory])?,
        app.service_token("two", &[Permission::Introspect, Permission::Audit])?,
    ];
    for value in &values {
        assert_eq!(
            status_with(&app, value).await?,
            if value == &values[0] { 404 } else { 403 }
        );
    }
    let mut conn = app.connection()?;
    let rows: Vec<StoredToken> = tokens::table
        .select((
            tokens::id,
            tokens::name,
            tokens::hint,
            tokens::description,
            tokens::digest,
        ))
        .load(&mut conn)?;
    let scopes: Vec<String> = token_scopes::table
        .select(token_scopes::scope)
        .load(&mut conn)?;
    let events: Vec<Option<String>> = audit_events::table
        .select(audit_events::detail)
        .load(&mut conn)?;
    assert_eq!(rows.len(), 2);
    assert_eq!(events.len(), 2);
    let mut stored = String::new();
    for (id, name, hint, description, digest) in &rows {
        write!(
            stored,
            "{id} {name} {hint} {description:?} {} ",
            String::from_utf8_lossy(digest)
        )?;
        assert_eq!(hint.len(), "tols_".len() + 4);
    }
    stored.push_str(&scopes.join(" "));
    for detail in events.iter().flatten() {
        stored.push_str(detail);
    }
    for value in &values {
        assert!(!stored.contains(value.as_str()), "a token value was stored");
        assert!(!stored.contains(&value[5..]), "a token body was stored");
    }
    Ok(())
}
