//! Token storage: insert, lookup by digest (with pepper rotation), scopes.

use diesel::prelude::*;

use super::model::{NewToken, TokenRow};
use super::secret::digests_equal;
use crate::db::DbConnection;
use crate::db::schema::{token_scopes, tokens};

/// Stores a token and its scopes (or permissions).
pub fn insert(conn: &mut DbConnection, token: &NewToken<'_>, scopes: &[&str]) -> QueryResult<()> {
    diesel::insert_into(tokens::table)
        .values(token)
        .execute(conn)?;
    for scope in scopes {
        diesel::insert_into(token_scopes::table)
            .values((
                token_scopes::token_id.eq(token.id),
                token_scopes::scope.eq(*scope),
            ))
            .execute(conn)?;
    }
    Ok(())
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
    let Some(row) = query.first::<TokenRow>(conn).optional()? else {
        return Ok(None);
    };
    let confirmed = candidates
        .iter()
        .find(|(pepper, _)| *pepper == row.pepper_id)
        .is_some_and(|(_, digest)| digests_equal(&row.digest, digest));
    if !confirmed {
        return Ok(None);
    }
    if row.pepper_id != current
        && let Some((_, digest)) = candidates.iter().find(|(pepper, _)| pepper == current)
    {
        diesel::update(tokens::table.find(&row.id))
            .set((
                tokens::digest.eq(digest.as_slice()),
                tokens::pepper_id.eq(current),
            ))
            .execute(conn)?;
        tracing::info!(token_id = %row.id, from = %row.pepper_id, to = %current, "token re-digested under the current pepper");
    }
    Ok(Some(row))
}

/// The scopes (or service permissions) of a token, sorted.
pub fn scopes_of(conn: &mut DbConnection, token_id: &str) -> QueryResult<Vec<String>> {
    token_scopes::table
        .filter(token_scopes::token_id.eq(token_id))
        .select(token_scopes::scope)
        .order(token_scopes::scope)
        .load(conn)
}
