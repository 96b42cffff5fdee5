//! Token storage: insert, lookup by digest (with pepper rotation), scopes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::kind::{OwnerType, TokenKind};
use super::model::{NewToken, TokenRow};
use super::secret::digests_equal;
use crate::db::DbConnection;
use crate::db::schema::{token_organizations, token_usage, tokens};

/// Declares the queries of a table that links a token to text values (`token_id` and one
/// column): adding, replacing and reading them. Each value is inserted by a statement of its
/// own, prepared once per connection (a token has few, and a multi-row statement would be
/// parsed anew each time).
macro_rules! token_links {
    ($(#[$doc:meta])* $module:ident: $table:ident.$column:ident) => {
        $(#[$doc])*
        pub mod $module {
            use diesel::prelude::*;

            use crate::db::DbConnection;
            use crate::db::schema::$table;

            /// Links the token to `values`.
            pub fn insert<'a>(
                conn: &mut DbConnection,
                token_id: &str,
                values: impl IntoIterator<Item = &'a str>,
            ) -> QueryResult<()> {
                for value in values {
                    diesel::insert_into($table::table)
                        .values(($table::token_id.eq(token_id), $table::$column.eq(value)))
                        .execute(conn)?;
                }
                Ok(())
            }

            /// Replaces the token's values with `values`.
            pub fn replace(
                conn: &mut DbConnection,
                token_id: &str,
                values: &[String],
            ) -> QueryResult<()> {
                diesel::delete($table::table.filter($table::token_id.eq(token_id)))
                    .execute(conn)?;
                insert(conn, token_id, values.iter().map(String::as_str))
            }

            /// `(token id, value)` for several tokens, ordered by both.
            pub fn of_many(
                conn: &mut DbConnection,
                token_ids: &[String],
            ) -> QueryResult<Vec<(String, String)>> {
                $table::table
                    .filter($table::token_id.eq_any(token_ids))
                    .order(($table::token_id, $table::$column))
                    .select(($table::token_id, $table::$column))
                    .load(conn)
            }
        }
    };
}

token_links!(
    /// A token's scopes (a service token's permissions).
    scopes: token_scopes.scope
);

token_links!(
    /// The projects a token is restricted to.
    projects: token_projects.project_id
);

/// Stores a token and its scopes (or permissions).
pub fn insert(conn: &mut DbConnection, token: &NewToken<'_>, scopes: &[&str]) -> QueryResult<()> {
    diesel::insert_into(tokens::table)
        .values(token)
        .execute(conn)?;
    scopes::insert(conn, token.id, scopes.iter().copied())
}

/// Finds the token whose digest matches one of `candidates` (`(pepper_id, digest)`, one per
/// configured pepper) in one indexed query, confirms it in constant time, and re-digests it
/// under the `current` pepper when it was found under an older one.
pub fn find_by_digests(
    conn: &mut DbConnection,
    candidates: &[(String, [u8; 32])],
    current: &str,
) -> QueryResult<Option<TokenRow>> {
    let mut query = tokens::table.select(TokenRow::as_select()).into_boxed();
    for (_, digest) in candidates {
        query = query.or_filter(tokens::digest.eq(digest.as_slice()));
    }
    let Some(row) = query.get_result::<TokenRow>(conn).optional()? else {
        return Ok(None);
    };
    let found = confirm(
        conn,
        candidates,
        current,
        &row.id,
        &row.pepper_id,
        &row.digest,
    )?;
    Ok(found.then_some(row))
}

/// Confirms in constant time that the stored digest is the candidate of its pepper, and
/// re-digests the token under the `current` pepper when it was found under an older one.
pub fn confirm(
    conn: &mut DbConnection,
    candidates: &[(String, [u8; 32])],
    current: &str,
    token_id: &str,
    pepper_id: &str,
    stored: &[u8],
) -> QueryResult<bool> {
    let confirmed = candidates
        .iter()
        .find(|(pepper, _)| pepper == pepper_id)
        .is_some_and(|(_, digest)| digests_equal(stored, digest));
    if confirmed && pepper_id != current {
        redigest(conn, token_id, candidates, current)?;
    }
    Ok(confirmed)
}

/// Stores a token found under an older pepper under the current one (rotation).
fn redigest(
    conn: &mut DbConnection,
    token_id: &str,
    candidates: &[(String, [u8; 32])],
    current: &str,
) -> QueryResult<()> {
    if let Some((_, digest)) = candidates.iter().find(|(pepper, _)| pepper == current) {
        diesel::update(tokens::table.find(token_id))
            .set((
                tokens::digest.eq(digest.as_slice()),
                tokens::pepper_id.eq(current),
            ))
            .execute(conn)?;
        tracing::info!(%token_id, to = %current, "token re-digested under the current pepper");
    }
    Ok(())
}

/// Stores the organization authorizations and project restriction of a token created `now`.
pub fn insert_links(
    conn: &mut DbConnection,
    token_id: &str,
    organization_ids: &[String],
    project_ids: &[String],
    now: NaiveDateTime,
) -> QueryResult<()> {
    for org in organization_ids {
        authorize_organization(conn, token_id, now, org, now)?;
    }
    projects::insert(conn, token_id, project_ids.iter().map(String::as_str))
}

/// A token by id.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<TokenRow>> {
    tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .get_result(conn)
        .optional()
}

/// The organizations a token is authorized for, with SSO authorization times.
pub fn organizations_of(
    conn: &mut DbConnection,
    token_ids: &[String],
) -> QueryResult<Vec<(String, String, Option<NaiveDateTime>)>> {
    token_organizations::table
        .filter(token_organizations::token_id.eq_any(token_ids))
        .order((
            token_organizations::token_id,
            token_organizations::organization_id,
        ))
        .select((
            token_organizations::token_id,
            token_organizations::organization_id,
            token_organizations::sso_authorized_at,
        ))
        .load(conn)
}

/// The ids of the organizations one token is authorized for.
pub fn organization_ids_of(conn: &mut DbConnection, token_id: &str) -> QueryResult<Vec<String>> {
    token_organizations::table
        .filter(token_organizations::token_id.eq(token_id))
        .order(token_organizations::organization_id)
        .select(token_organizations::organization_id)
        .load(conn)
}

/// The settings a PATCH may change, as stored on the token row.
pub struct Settings<'a> {
    /// Name (unique per owner among live tokens).
    pub name: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// Expiry.
    pub expires_at: Option<NaiveDateTime>,
}

/// Stores new settings; a name the owner already uses is a unique violation.
pub fn update_settings(
    conn: &mut DbConnection,
    token_id: &str,
    settings: &Settings<'_>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(tokens::table.find(token_id))
        .set((
            tokens::name.eq(settings.name),
            tokens::description.eq(settings.description),
            tokens::expires_at.eq(settings.expires_at),
            tokens::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A new secret of an existing token: its digest, pepper and hint.
pub struct Secret<'a> {
    /// Digest under the current pepper.
    pub digest: &'a [u8],
    /// The current pepper's id.
    pub pepper_id: &'a str,
    /// The new hint.
    pub hint: &'a str,
}

/// Replaces a token's secret (regeneration) and its expiry.
pub fn replace_secret(
    conn: &mut DbConnection,
    token_id: &str,
    secret: &Secret<'_>,
    expires_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(tokens::table.find(token_id))
        .set((
            tokens::digest.eq(secret.digest),
            tokens::pepper_id.eq(secret.pepper_id),
            tokens::hint.eq(secret.hint),
            tokens::expires_at.eq(expires_at),
            tokens::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Authorizes a token (created at `token_created_at`) for one more organization.
pub fn authorize_organization(
    conn: &mut DbConnection,
    token_id: &str,
    token_created_at: NaiveDateTime,
    org_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(token_organizations::table)
        .values((
            token_organizations::token_id.eq(token_id),
            token_organizations::organization_id.eq(org_id),
            token_organizations::created_at.eq(now),
            token_organizations::token_created_at.eq(token_created_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes an organization from a token.
pub fn remove_organization(
    conn: &mut DbConnection,
    token_id: &str,
    org_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(token_organizations::table.find((token_id, org_id))).execute(conn)?;
    diesel::update(tokens::table.find(token_id))
        .set(tokens::updated_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Records the SSO authorization of a token in an organization.
pub fn authorize_sso(
    conn: &mut DbConnection,
    token_id: &str,
    org_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(token_organizations::table.find((token_id, org_id)))
        .set(token_organizations::sso_authorized_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// A token's usage totals: its id, use count, last use and the address of that use.
pub type UsageRow = (String, i64, NaiveDateTime, Option<String>);

/// The usage totals of the tokens among these that were ever used.
pub fn usage_of_many(conn: &mut DbConnection, token_ids: &[String]) -> QueryResult<Vec<UsageRow>> {
    token_usage::table
        .filter(token_usage::token_id.eq_any(token_ids))
        .select((
            token_usage::token_id,
            token_usage::usage_count,
            token_usage::last_used_at,
            token_usage::last_used_ip,
        ))
        .load(conn)
}

/// Marks a token revoked now. Returns false when it already was.
pub fn revoke(
    conn: &mut DbConnection,
    token_id: &str,
    by: &str,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        tokens::table
            .find(token_id)
            .filter(tokens::revoked_at.is_null()),
    )
    .set((
        tokens::revoked_at.eq(now),
        tokens::revoked_by.eq(by),
        tokens::revoked_reason.eq(reason),
        tokens::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Deletes a token and everything attached to it.
pub fn delete(conn: &mut DbConnection, token_id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(tokens::table.find(token_id)).execute(conn)? > 0)
}

/// Ids of the live tokens owned by `(owner_type, owner_id)`.
pub fn live_owned_by(
    conn: &mut DbConnection,
    owner_type: OwnerType,
    owner_id: &str,
) -> QueryResult<Vec<String>> {
    tokens::table
        .filter(tokens::owner_type.eq(owner_type.as_str()))
        .filter(tokens::owner_id.eq(owner_id))
        .filter(tokens::revoked_at.is_null())
        .select(tokens::id)
        .load(conn)
}

/// Ids of the live agent tokens authorized for `org_id`.
pub fn live_agents_in(conn: &mut DbConnection, org_id: &str) -> QueryResult<Vec<String>> {
    tokens::table
        .inner_join(token_organizations::table)
        .filter(token_organizations::organization_id.eq(org_id))
        .filter(tokens::kind.eq(TokenKind::Agent.as_str()))
        .filter(tokens::revoked_at.is_null())
        .select(tokens::id)
        .load(conn)
}
