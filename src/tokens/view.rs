//! Building token resources (what managers see) from rows, in batched queries.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::QueryResult;

use super::dto::{Owner, ServiceTokenResource, SsoAuthorization, Status, TokenResource};
use super::model::TokenRow;
use super::repo;
use crate::auth::Permission;
use crate::db::DbConnection;

/// `revoked` over `expired` over `active`.
#[must_use]
pub fn status(row: &TokenRow, now: NaiveDateTime) -> Status {
    if row.revoked_at.is_some() {
        Status::Revoked
    } else if row.expires_at.is_some_and(|at| at <= now) {
        Status::Expired
    } else {
        Status::Active
    }
}

/// What a resource shows besides its row.
#[derive(Default)]
struct Links {
    scopes: Vec<String>,
    /// Organization ids with the time the token was authorized for SSO there.
    organizations: Vec<(String, Option<NaiveDateTime>)>,
    projects: Vec<String>,
    /// Uses, last use and its address.
    usage: Option<(i64, NaiveDateTime, Option<String>)>,
}

/// The resources of `rows`, in the same order, with four queries whatever their number.
pub fn resources(conn: &mut DbConnection, rows: Vec<TokenRow>) -> QueryResult<Vec<TokenResource>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut links: HashMap<String, Links> = HashMap::with_capacity(ids.len());
    for (token, scope) in repo::scopes::of_many(conn, &ids)? {
        links.entry(token).or_default().scopes.push(scope);
    }
    for (token, org, sso) in repo::organizations_of(conn, &ids)? {
        links
            .entry(token)
            .or_default()
            .organizations
            .push((org, sso));
    }
    for (token, project) in repo::projects::of_many(conn, &ids)? {
        links.entry(token).or_default().projects.push(project);
    }
    for (token, count, last, ip) in repo::usage_of_many(conn, &ids)? {
        links.entry(token).or_default().usage = Some((count, last, ip));
    }
    let now = crate::time::now();
    Ok(rows
        .into_iter()
        .map(|row| {
            let links = links.remove(&row.id).unwrap_or_default();
            assemble(row, links, now)
        })
        .collect())
}

/// The resource of a token just stored with these scopes, organizations and projects: nothing
/// is read back (a new token has no SSO authorization and no use yet).
#[must_use]
pub fn created(
    row: TokenRow,
    scopes: &[String],
    organization_ids: &[String],
    project_ids: &[String],
) -> TokenResource {
    let links = Links {
        scopes: scopes.to_vec(),
        organizations: organization_ids.iter().map(|o| (o.clone(), None)).collect(),
        projects: project_ids.to_vec(),
        usage: None,
    };
    assemble(row, links, crate::time::now())
}

/// A resource from its row and links. Lists are sorted here (byte order), not by the
/// database, so that both backends and [`created`] show them alike.
fn assemble(row: TokenRow, mut links: Links, now: NaiveDateTime) -> TokenResource {
    links.scopes.sort_unstable();
    links.organizations.sort_unstable();
    links.projects.sort_unstable();
    let status = status(&row, now);
    let (usage_count, last_used_at, last_used_ip) =
        links.usage.map_or((0, None, None), |(count, last, ip)| {
            (count, Some(last.and_utc()), ip)
        });
    TokenResource {
        kind: row.kind,
        scopes: links.scopes,
        organization_ids: links
            .organizations
            .iter()
            .map(|(org, _)| org.clone())
            .collect(),
        sso_authorizations: links
            .organizations
            .iter()
            .filter_map(|(org, at)| {
                at.map(|authorized_at| SsoAuthorization {
                    organization_id: org.clone(),
                    authorized_at: authorized_at.and_utc(),
                })
            })
            .collect(),
        project_ids: links.projects,
        owner: Owner {
            owner_type: row.owner_type,
            id: row.owner_id,
        },
        is_active: status == Status::Active,
        status,
        id: row.id,
        name: row.name,
        description: row.description,
        hint: row.hint,
        expires_at: row.expires_at.map(|at| at.and_utc()),
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
        revoked_at: row.revoked_at.map(|at| at.and_utc()),
        revoked_by: row.revoked_by,
        revoked_reason: row.revoked_reason,
        last_used_at,
        last_used_ip,
        usage_count,
    }
}

/// One token's resource.
pub fn resource(conn: &mut DbConnection, row: TokenRow) -> QueryResult<TokenResource> {
    let mut list = resources(conn, vec![row])?;
    list.pop().ok_or(diesel::result::Error::NotFound)
}

/// The resource of the token with this id, read again after a change.
pub fn reload(conn: &mut DbConnection, token_id: &str) -> QueryResult<TokenResource> {
    let row = repo::find(conn, token_id)?.ok_or(diesel::result::Error::NotFound)?;
    resource(conn, row)
}

/// The resources of service-token rows, in the same order.
pub fn service_resources(
    conn: &mut DbConnection,
    rows: Vec<TokenRow>,
) -> QueryResult<Vec<ServiceTokenResource>> {
    let created_by: Vec<Option<String>> = rows.iter().map(|r| r.created_by.clone()).collect();
    Ok(resources(conn, rows)?
        .into_iter()
        .zip(created_by)
        .map(|(token, created_by)| resource_of(token, created_by))
        .collect())
}

fn resource_of(token: TokenResource, created_by: Option<String>) -> ServiceTokenResource {
    ServiceTokenResource {
        permissions: token
            .scopes
            .iter()
            .filter_map(|p| p.parse::<Permission>().ok())
            .collect(),
        id: token.id,
        name: token.name,
        description: token.description,
        hint: token.hint,
        status: token.status,
        is_active: token.is_active,
        expires_at: token.expires_at,
        created_at: token.created_at,
        created_by,
        revoked_at: token.revoked_at,
        revoked_by: token.revoked_by,
        revoked_reason: token.revoked_reason,
        last_used_at: token.last_used_at,
        usage_count: token.usage_count,
    }
}
