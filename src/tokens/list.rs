//! Listing tokens: which tokens a list covers, the filters (`kind`, `organization_id`,
//! `status`, `q`, `scope`) and keyset pagination, newest first, never OFFSET.

use diesel::prelude::*;
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::{ServiceTokenResource, Status, TokenResource};
use super::kind::{OwnerType, TokenKind};
use super::model::TokenRow;
use super::view;
use crate::db::schema::{token_organizations, token_scopes, tokens};
use crate::db::{DbBackend, DbConnection};
use crate::directory::repo as directory;
use crate::error::ApiError;
use crate::pagination::{self, Cursor, Direction, Keyset, Page, PageQuery, PageRequest};

diesel::define_sql_function! {
    /// SQL `lower()`, for case-insensitive name search on both backends.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Query parameters of the token lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// `personal`, `agent`, `api`.
    pub kind: Option<String>,
    /// Tokens authorized for this organization.
    pub organization_id: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: Option<String>,
    /// Name contains (case-insensitive).
    pub q: Option<String>,
    /// Tokens granted exactly this scope.
    pub scope: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100, example = 20)]
    pub limit: Option<i64>,
    /// Items after (older than) this cursor.
    pub after: Option<String>,
    /// Items before (newer than) this cursor.
    pub before: Option<String>,
}

/// Which tokens a list covers.
#[derive(Debug, Clone)]
enum Coverage {
    /// A user's own personal and agent tokens and the api tokens of the organizations they
    /// administer.
    Managed {
        /// The user.
        user_id: String,
        /// Organizations where they are admin or owner.
        admin_of: Vec<String>,
    },
    /// Every user or api token authorized for an organization (admin oversight).
    Organization(String),
    /// Every service token.
    Service,
}

/// Validated filters.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    kind: Option<TokenKind>,
    organization_id: Option<String>,
    status: Option<Status>,
    q: Option<String>,
    scope: Option<String>,
}

impl TokenQuery {
    /// Checks the filters (422 naming the parameter) and the page parameters.
    pub fn validate(&self) -> Result<(Filters, PageRequest), ApiError> {
        let kind = match self.kind.as_deref() {
            None => None,
            Some(k) => Some(
                k.parse::<TokenKind>()
                    .ok()
                    .filter(|k| *k != TokenKind::Service)
                    .ok_or_else(|| ApiError::field("kind", "must be personal, agent or api"))?,
            ),
        };
        let status = status_filter(self.status.as_deref())?;
        let page = PageQuery {
            limit: self.limit,
            after: self.after.as_deref(),
            before: self.before.as_deref(),
        }
        .validate()?;
        Ok((
            Filters {
                kind,
                organization_id: self.organization_id.clone().filter(|o| !o.is_empty()),
                status,
                q: self.q.clone().filter(|q| !q.is_empty()),
                scope: self.scope.clone().filter(|s| !s.is_empty()),
            },
            page,
        ))
    }
}

/// The `status` filter: `active`, `expired` or `revoked` (422 otherwise).
fn status_filter(status: Option<&str>) -> Result<Option<Status>, ApiError> {
    status
        .map(str::parse)
        .transpose()
        .map_err(|_| ApiError::field("status", "must be active, expired or revoked"))
}

/// Query parameters of `GET /v1/service-tokens`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceTokenQuery {
    /// Only tokens with this status: `active`, `expired` or `revoked`.
    pub status: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100, example = 20)]
    pub limit: Option<i64>,
    /// Items after (older than) this cursor.
    pub after: Option<String>,
    /// Items before (newer than) this cursor.
    pub before: Option<String>,
}

impl ServiceTokenQuery {
    /// Checks the status (422) and the page parameters.
    pub fn validate(&self) -> Result<(Option<Status>, PageRequest), ApiError> {
        let page = PageQuery {
            limit: self.limit,
            after: self.after.as_deref(),
            before: self.before.as_deref(),
        }
        .validate()?;
        Ok((status_filter(self.status.as_deref())?, page))
    }
}

type Boxed<'a> = tokens::BoxedQuery<'a, DbBackend>;

/// The covered tokens with the filters applied (no order, no page).
fn filtered<'a>(coverage: &'a Coverage, filters: &'a Filters) -> Boxed<'a> {
    let service = TokenKind::Service.as_str();
    let mut query = match coverage {
        Coverage::Service => tokens::table.filter(tokens::kind.eq(service)).into_boxed(),
        _ => tokens::table.filter(tokens::kind.ne(service)).into_boxed(),
    };
    query = match coverage {
        Coverage::Service => query,
        Coverage::Managed { user_id, admin_of } => query.filter(
            tokens::owner_type
                .eq(OwnerType::User.as_str())
                .and(tokens::owner_id.eq(user_id))
                .or(tokens::owner_type
                    .eq(OwnerType::Organization.as_str())
                    .and(tokens::owner_id.eq_any(admin_of))),
        ),
        Coverage::Organization(org) => query.filter(
            tokens::id.eq_any(
                token_organizations::table
                    .filter(token_organizations::organization_id.eq(org))
                    .select(token_organizations::token_id),
            ),
        ),
    };
    if let Some(kind) = filters.kind {
        query = query.filter(tokens::kind.eq(kind.as_str()));
    }
    if let Some(org) = &filters.organization_id {
        query = query.filter(
            tokens::id.eq_any(
                token_organizations::table
                    .filter(token_organizations::organization_id.eq(org))
                    .select(token_organizations::token_id),
            ),
        );
    }
    if let Some(scope) = &filters.scope {
        query = query.filter(
            tokens::id.eq_any(
                token_scopes::table
                    .filter(token_scopes::scope.eq(scope))
                    .select(token_scopes::token_id),
            ),
        );
    }
    if let Some(q) = &filters.q {
        let escaped = q
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(
            lower(tokens::name)
                .like(format!("%{escaped}%"))
                .escape('\\'),
        );
    }
    let now = crate::time::now();
    query = match filters.status {
        None => query,
        Some(Status::Revoked) => query.filter(tokens::revoked_at.is_not_null()),
        Some(Status::Expired) => query
            .filter(tokens::revoked_at.is_null())
            .filter(tokens::expires_at.le(now)),
        Some(Status::Active) => query
            .filter(tokens::revoked_at.is_null())
            .filter(tokens::expires_at.is_null().or(tokens::expires_at.gt(now))),
    };
    query
}

fn beyond<'a>(query: Boxed<'a>, direction: &Direction) -> Boxed<'a> {
    pagination::beyond!(query, direction, tokens::created_at, tokens::id)
}

struct TokenList<'a> {
    conn: &'a mut DbConnection,
    coverage: &'a Coverage,
    filters: &'a Filters,
}

impl Keyset for TokenList<'_> {
    type Item = TokenRow;
    type Error = ApiError;

    fn key(row: &TokenRow) -> Cursor {
        Cursor::at(row.created_at, &row.id)
    }

    fn fetch(&mut self, direction: &Direction, n: i64) -> Result<Vec<TokenRow>, ApiError> {
        let query = beyond(filtered(self.coverage, self.filters), direction)
            .limit(n)
            .select(TokenRow::as_select());
        Ok(pagination::load_newest_first!(
            query,
            direction,
            tokens::created_at,
            tokens::id,
            self.conn
        )?)
    }

    fn exists(&mut self, direction: &Direction) -> Result<bool, ApiError> {
        let found: Vec<String> = beyond(filtered(self.coverage, self.filters), direction)
            .select(tokens::id)
            .limit(1)
            .load(self.conn)?;
        Ok(!found.is_empty())
    }

    fn count(&mut self) -> Result<i64, ApiError> {
        Ok(filtered(self.coverage, self.filters)
            .count()
            .get_result(self.conn)?)
    }
}

/// A page of the user's tokens: their personal and agent tokens and the api tokens of the
/// organizations they administer.
pub fn managed_by(
    conn: &mut DbConnection,
    user_id: &str,
    filters: &Filters,
    request: &PageRequest,
) -> Result<Page<TokenResource>, ApiError> {
    let coverage = Coverage::Managed {
        user_id: user_id.to_owned(),
        admin_of: directory::admin_of(conn, user_id)?,
    };
    page(conn, &coverage, filters, request)
}

/// A page of an organization's tokens, for its admins and owners; others get 404.
pub fn of_organization(
    conn: &mut DbConnection,
    user_id: &str,
    org_id: String,
    filters: &Filters,
    request: &PageRequest,
) -> Result<Page<TokenResource>, ApiError> {
    if !directory::admin_of(conn, user_id)?.contains(&org_id) {
        return Err(ApiError::not_found("organization", &org_id));
    }
    page(conn, &Coverage::Organization(org_id), filters, request)
}

/// A page of every service token, optionally with one status, newest first.
pub fn service_tokens(
    conn: &mut DbConnection,
    status: Option<Status>,
    request: &PageRequest,
) -> Result<Page<ServiceTokenResource>, ApiError> {
    let filters = Filters {
        status,
        ..Filters::default()
    };
    let rows = rows(conn, &Coverage::Service, &filters, request)?;
    Ok(Page {
        items: view::service_resources(conn, rows.items)?,
        page_info: rows.page_info,
        total_count: rows.total_count,
    })
}

/// One page of the covered, filtered rows, newest first.
fn rows(
    conn: &mut DbConnection,
    coverage: &Coverage,
    filters: &Filters,
    request: &PageRequest,
) -> Result<Page<TokenRow>, ApiError> {
    pagination::read(
        &mut TokenList {
            conn,
            coverage,
            filters,
        },
        request,
    )
}

/// One page of the covered, filtered tokens, newest first.
fn page(
    conn: &mut DbConnection,
    coverage: &Coverage,
    filters: &Filters,
    request: &PageRequest,
) -> Result<Page<TokenResource>, ApiError> {
    let rows = rows(conn, coverage, filters, request)?;
    Ok(Page {
        items: view::resources(conn, rows.items)?,
        page_info: rows.page_info,
        total_count: rows.total_count,
    })
}
