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
use crate::db::{DbBackend, DbConnection, Spares};
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
    /// The tokens of these owners: a user's personal and agent tokens, and the api tokens of
    /// the organizations they administer. Each owner's tokens are read along their own index
    /// and merged.
    Owners(Vec<(OwnerType, String)>),
    /// Every user or api token authorized for an organization (admin oversight), read along
    /// the organization's authorizations.
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
    /// The `q` filter as a `LIKE` pattern on the lower-cased name.
    name_pattern: Option<String>,
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
                name_pattern: self
                    .q
                    .as_deref()
                    .filter(|q| !q.is_empty())
                    .map(like_pattern),
                scope: self.scope.clone().filter(|s| !s.is_empty()),
            },
            page,
        ))
    }
}

/// A `LIKE` pattern (with a backslash as the escape) for names that contain `q`, whatever
/// their case.
fn like_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Filters {
    /// No filter: every covered token. An organization's authorizations are then counted
    /// without reading the tokens (each belongs to a token: they go with it).
    fn is_empty(&self) -> bool {
        self.kind.is_none()
            && self.organization_id.is_none()
            && self.status.is_none()
            && self.name_pattern.is_none()
            && self.scope.is_none()
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

type Authorized<'a> = diesel::dsl::IntoBoxed<
    'a,
    diesel::dsl::InnerJoin<tokens::table, token_organizations::table>,
    DbBackend,
>;

// `token_organizations` in the `organization_id` filter's subquery (the oversight page joins
// the table itself).
diesel::alias!(token_organizations as in_organization: InOrganization);

/// Applies the filters to a boxed query over `tokens` (alone or joined).
macro_rules! with_filters {
    ($query:expr, $filters:expr) => {{
        let filters: &Filters = $filters;
        let mut query = $query;
        if let Some(kind) = filters.kind {
            query = query.filter(tokens::kind.eq(kind.as_str()));
        }
        if let Some(org) = &filters.organization_id {
            query = query.filter(
                tokens::id.eq_any(
                    in_organization
                        .filter(
                            in_organization
                                .field(token_organizations::organization_id)
                                .eq(org.clone()),
                        )
                        .select(in_organization.field(token_organizations::token_id)),
                ),
            );
        }
        if let Some(scope) = &filters.scope {
            query = query.filter(
                tokens::id.eq_any(
                    token_scopes::table
                        .filter(token_scopes::scope.eq(scope.clone()))
                        .select(token_scopes::token_id),
                ),
            );
        }
        if let Some(pattern) = &filters.name_pattern {
            query = query.filter(lower(tokens::name).like(pattern.clone()).escape('\\'));
        }
        let now = crate::time::now();
        match filters.status {
            None => query,
            Some(Status::Revoked) => query.filter(tokens::revoked_at.is_not_null()),
            Some(Status::Expired) => query
                .filter(tokens::revoked_at.is_null())
                .filter(tokens::expires_at.le(now)),
            Some(Status::Active) => query
                .filter(tokens::revoked_at.is_null())
                .filter(tokens::expires_at.is_null().or(tokens::expires_at.gt(now))),
        }
    }};
}

/// One owner's filtered tokens, along the owner's page index.
fn owned<'a>(owner_type: OwnerType, owner_id: &'a str, filters: &'a Filters) -> Boxed<'a> {
    with_filters!(
        tokens::table
            .filter(tokens::owner_type.eq(owner_type.as_str()))
            .filter(tokens::owner_id.eq(owner_id))
            .into_boxed(),
        filters
    )
}

/// The filtered service tokens, along their own (partial) page index: the condition is SQL
/// text, not a bound value, so that both planners can match it to the index's.
fn service(filters: &Filters) -> Boxed<'_> {
    with_filters!(
        tokens::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "tokens.kind = 'service'"
            ))
            .into_boxed(),
        filters
    )
}

/// The filtered tokens authorized for an organization, along its authorizations' page index
/// (`token_created_at` and `token_id` are the token's `created_at` and `id`).
fn authorized<'a>(org: &'a str, filters: &'a Filters) -> Authorized<'a> {
    with_filters!(
        tokens::table
            .inner_join(token_organizations::table)
            .filter(token_organizations::organization_id.eq(org))
            .into_boxed(),
        filters
    )
}

/// Up to `n` token rows of a boxed query beyond `direction` along its `(created_at, id)`
/// columns (the token's own, or the authorizations' copy of them), newest first.
macro_rules! rows_beyond {
    ($query:expr, $direction:expr, $n:expr, $created_at:path, $id:path, $conn:expr) => {
        pagination::load_newest_first!(
            pagination::beyond!($query, $direction, $created_at, $id)
                .limit($n)
                .select(TokenRow::as_select()),
            $direction,
            $created_at,
            $id,
            $conn
        )
    };
}

struct TokenList<'a> {
    conn: &'a mut DbConnection,
    coverage: &'a Coverage,
    filters: &'a Filters,
}

impl Keyset for TokenList<'_> {
    type Item = TokenRow;

    fn key(row: &TokenRow) -> Cursor {
        Cursor::at(row.created_at, &row.id)
    }

    fn fetch(&mut self, direction: &Direction, n: i64) -> Result<Vec<TokenRow>, ApiError> {
        let (filters, conn) = (self.filters, &mut *self.conn);
        Ok(match self.coverage {
            Coverage::Owners(owners) => {
                let mut rows = Vec::new();
                for (owner_type, owner_id) in owners {
                    let query = owned(*owner_type, owner_id, filters);
                    rows.extend(rows_beyond!(
                        query,
                        direction,
                        n,
                        tokens::created_at,
                        tokens::id,
                        &mut *conn
                    )?);
                }
                pagination::merge_newest_first(rows, direction, n, |row: &TokenRow| {
                    (row.created_at, row.id.clone())
                })
            }
            Coverage::Service => rows_beyond!(
                service(filters),
                direction,
                n,
                tokens::created_at,
                tokens::id,
                conn
            )?,
            Coverage::Organization(org) => {
                let query = authorized(org, filters);
                rows_beyond!(
                    query,
                    direction,
                    n,
                    token_organizations::token_created_at,
                    token_organizations::token_id,
                    conn
                )?
            }
        })
    }

    fn exists(&mut self, direction: &Direction) -> Result<bool, ApiError> {
        let (filters, conn) = (self.filters, &mut *self.conn);
        let found: Vec<String> = match self.coverage {
            Coverage::Owners(owners) => {
                for (owner_type, owner_id) in owners {
                    let found: Vec<String> = pagination::beyond!(
                        owned(*owner_type, owner_id, filters),
                        direction,
                        tokens::created_at,
                        tokens::id
                    )
                    .select(tokens::id)
                    .limit(1)
                    .load(&mut *conn)?;
                    if !found.is_empty() {
                        return Ok(true);
                    }
                }
                Vec::new()
            }
            Coverage::Service => {
                pagination::beyond!(service(filters), direction, tokens::created_at, tokens::id)
                    .select(tokens::id)
                    .limit(1)
                    .load(conn)?
            }
            Coverage::Organization(org) => pagination::beyond!(
                authorized(org, filters),
                direction,
                token_organizations::token_created_at,
                token_organizations::token_id
            )
            .select(tokens::id)
            .limit(1)
            .load(conn)?,
        };
        Ok(!found.is_empty())
    }

    fn count(&mut self) -> Result<i64, ApiError> {
        let (filters, conn) = (self.filters, &mut *self.conn);
        Ok(match self.coverage {
            Coverage::Owners(owners) => {
                let mut total = 0;
                for (owner_type, owner_id) in owners {
                    total += pagination::capped_count!(
                        owned(*owner_type, owner_id, filters),
                        &mut *conn
                    );
                }
                total.min(pagination::COUNT_CAP)
            }
            Coverage::Service => pagination::capped_count!(service(filters), conn),
            Coverage::Organization(org) if filters.is_empty() => pagination::capped_count!(
                token_organizations::table
                    .filter(token_organizations::organization_id.eq(org))
                    .into_boxed(),
                conn
            ),
            Coverage::Organization(org) => {
                pagination::capped_count!(authorized(org, filters), conn)
            }
        })
    }
}

/// A page of the user's tokens: their personal and agent tokens and the api tokens of the
/// organizations they administer.
pub fn managed_by(
    conn: &mut DbConnection,
    spares: &Spares,
    user_id: &str,
    filters: &Filters,
    request: &PageRequest,
) -> Result<Page<TokenResource>, ApiError> {
    let mut owners = vec![(OwnerType::User, user_id.to_owned())];
    owners.extend(
        directory::admin_of(conn, user_id)?
            .into_iter()
            .map(|org| (OwnerType::Organization, org)),
    );
    // An owner who cannot hold the asked kind is not read: `kind=api` does not walk the
    // user's own tokens, nor `kind=personal` each organization's.
    if let Some(kind) = filters.kind {
        owners.retain(|(owner_type, _)| *owner_type == OwnerType::of(kind));
    }
    let coverage = Coverage::Owners(owners);
    page(conn, spares, &coverage, filters, request)
}

/// A page of an organization's tokens, for its admins and owners; others get 404.
pub fn of_organization(
    conn: &mut DbConnection,
    spares: &Spares,
    user_id: &str,
    org_id: String,
    filters: &Filters,
    request: &PageRequest,
) -> Result<Page<TokenResource>, ApiError> {
    if !directory::admin_of(conn, user_id)?.contains(&org_id) {
        return Err(ApiError::not_found("organization", &org_id));
    }
    page(
        conn,
        spares,
        &Coverage::Organization(org_id),
        filters,
        request,
    )
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
///
/// When the page does not hold the whole list, the list is counted on a spare connection
/// (PostgreSQL) while the page's scopes, organizations and usage are read: on a list of
/// thousands the count takes as long as all of those, and the two no longer add up. Without
/// a spare the count comes after them, on this connection.
fn page(
    conn: &mut DbConnection,
    spares: &Spares,
    coverage: &Coverage,
    filters: &Filters,
    request: &PageRequest,
) -> Result<Page<TokenResource>, ApiError> {
    let rows = pagination::read_uncounted(
        &mut TokenList {
            conn: &mut *conn,
            coverage,
            filters,
        },
        request,
    )?;
    let count = |conn: &mut DbConnection| {
        TokenList {
            conn,
            coverage,
            filters,
        }
        .count()
    };
    let (items, total_count) = if let Some(known) = rows.total_count {
        (view::resources(conn, rows.items)?, known)
    } else if let Some(spare) = spares.take() {
        std::thread::scope(|scope| {
            let counting = std::thread::Builder::new()
                .name("tokend-count".into())
                .spawn_scoped(scope, move || spare.run(count));
            let items = view::resources(conn, rows.items)?;
            // A thread that could not be started hands its spare back: count here instead.
            let total = match counting {
                Ok(counting) => counting
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
                Err(_) => count(conn)?,
            };
            Ok::<_, ApiError>((items, total))
        })?
    } else {
        (view::resources(conn, rows.items)?, count(conn)?)
    };
    Ok(Page {
        items,
        page_info: rows.page_info,
        total_count,
    })
}
