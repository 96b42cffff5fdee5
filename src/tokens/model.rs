//! The stored shape of a token.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::kind::{OwnerType, TokenKind};
use crate::db::schema::tokens;

/// A `tokens` row. The digest is a keyed hash of the value, never the value.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tokens)]
pub struct TokenRow {
    /// Opaque id (`UUIDv7` text).
    pub id: String,
    /// Its kind (a stored kind tokend does not know fails the load).
    #[diesel(deserialize_as = String)]
    pub kind: TokenKind,
    /// Unique per owner among tokens that are not revoked.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Prefix plus the first body characters; safe to show.
    pub hint: String,
    /// HMAC-SHA256 of the value under `pepper_id`.
    pub digest: Vec<u8>,
    /// Which pepper made `digest`.
    pub pepper_id: String,
    /// Whose it is.
    #[diesel(deserialize_as = String)]
    pub owner_type: OwnerType,
    /// The owner's id.
    pub owner_id: String,
    /// Who created it (user id or service token id), when not the owner.
    pub created_by: Option<String>,
    /// When it stops working; `None` = never.
    pub expires_at: Option<NaiveDateTime>,
    /// Creation time (UTC).
    pub created_at: NaiveDateTime,
    /// Last change (UTC).
    pub updated_at: NaiveDateTime,
    /// When it was revoked.
    pub revoked_at: Option<NaiveDateTime>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Why.
    pub revoked_reason: Option<String>,
}

/// A token about to be stored.
#[derive(Debug, Insertable)]
#[diesel(table_name = tokens)]
pub struct NewToken<'a> {
    /// Opaque id.
    pub id: &'a str,
    /// Kind name.
    pub kind: &'a str,
    /// Name.
    pub name: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// Hint.
    pub hint: &'a str,
    /// Keyed digest.
    pub digest: &'a [u8],
    /// Pepper of the digest.
    pub pepper_id: &'a str,
    /// Owner type.
    pub owner_type: &'a str,
    /// Owner id.
    pub owner_id: &'a str,
    /// Creator.
    pub created_by: Option<&'a str>,
    /// Expiry.
    pub expires_at: Option<NaiveDateTime>,
    /// Now.
    pub created_at: NaiveDateTime,
    /// Now.
    pub updated_at: NaiveDateTime,
}
