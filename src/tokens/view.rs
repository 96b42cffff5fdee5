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

/// The resources of `rows`, in the same order, with four queries whatever their number.
pub fn resources(conn: &mut DbConnection, rows: Vec<TokenRow>) -> QueryResult<Vec<TokenResource>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut scopes: HashMap<String, Vec<String>> = HashMap::new();
    for (token, scope) in repo::scopes_of_many(conn, &ids)? {
        scopes.entry(token).or_default().push(scope);
    }
    let mut orgs: HashMap<String, Vec<(String, Option<NaiveDateTime>)>> = HashMap::new();
    for (token, org, sso) in repo::organizations_of(conn, &ids)? {
        orgs.entry(token).or_default().push((org, sso));
    }
    let mut projects: HashMap<String, Vec<String>> = HashMap::new();
    for (token, project) in repo::projects_of_many(conn, &ids)? {
        projects.entry(token).or_default().push(project);
    }
    let mut usage: HashMap<String, (i64, NaiveDateTime, Option<String>)> =
        repo::usage_of_many(conn, &ids)?
            .into_iter()
            .map(|(token, count, last, ip)| (token, (count, last, ip)))
            .collect();
    let now = crate::time::now();
    Ok(rows
        .into_iter()
        .map(|row| {
            let token_orgs = orgs.remove(&row.id).unwrap_or_default();
            let status = status(&row, now);
            let (usage_count, last_used_at, last_used_ip) = usage
                .remove(&row.id)
                .map_or((0, None, None), |(count, last, ip)| (count, Some(last), ip));
            TokenResource {
                kind: row.kind,
                scopes: scopes.remove(&row.id).unwrap_or_default(),
                organization_ids: token_orgs.iter().map(|(org, _)| org.clone()).collect(),
                sso_authorizations: token_orgs
                    .iter()
                    .filter_map(|(org, at)| {
                        at.map(|authorized_at| SsoAuthorization {
                            organization_id: org.clone(),
                            authorized_at,
                        })
                    })
                    .collect(),
                project_ids: projects.remove(&row.id).unwrap_or_default(),
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
                expires_at: row.expires_at,
                created_at: row.created_at,
                updated_at: row.updated_at,
                revoked_at: row.revoked_at,
                revoked_by: row.revoked_by,
                revoked_reason: row.revoked_reason,
                last_used_at,
                last_used_ip,
                usage_count,
            }
        })
        .collect())
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
