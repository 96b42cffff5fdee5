//! Reading a token's usage back (`GET /v1/tokens/{id}/usage`): totals, recent addresses and
//! daily counts, for the token's managers.

use chrono::{NaiveDate, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::{token_ips, token_usage as usage_totals, token_usage_daily};
use crate::error::ApiError;
use crate::tokens::access::managed;

/// Days in `daily[]`.
pub const DAYS: i64 = 90;
/// Entries in `recent_ips[]`.
pub const RECENT_IPS: i64 = 10;

/// One client address.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecentIp {
    /// The address.
    #[schema(example = "203.0.113.7")]
    pub ip: String,
    /// Its latest use.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(value_type = DateTime<Utc>)]
    pub last_seen_at: NaiveDateTime,
    /// Its uses.
    pub count: i64,
}

/// Uses on one UTC day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DailyCount {
    /// `YYYY-MM-DD`.
    #[schema(example = "2026-11-22")]
    pub date: String,
    /// Uses.
    pub count: i64,
}

/// A token's usage (written in batches: up to one flush interval behind).
#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    /// Token id.
    pub token_id: String,
    /// Uses in all.
    pub usage_count: i64,
    /// The latest use.
    #[serde(serialize_with = "crate::time::rfc3339_opt")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub last_used_at: Option<NaiveDateTime>,
    /// The address of the latest use.
    pub last_used_ip: Option<String>,
    /// Up to 10 addresses, most recent first.
    pub recent_ips: Vec<RecentIp>,
    /// The last 90 days, oldest first, days without use included.
    pub daily: Vec<DailyCount>,
}

/// The usage of a token the user manages (404 otherwise).
pub fn of_managed(
    conn: &mut DbConnection,
    user_id: &str,
    token_id: &str,
) -> Result<Usage, ApiError> {
    let (token, _) = managed(conn, user_id, token_id)?;
    // Totals first: a flush committed between the reads below can only make the
    // addresses and days newer than the totals, never older.
    let totals: Option<(i64, NaiveDateTime, Option<String>)> = usage_totals::table
        .find(&token.id)
        .select((
            usage_totals::usage_count,
            usage_totals::last_used_at,
            usage_totals::last_used_ip,
        ))
        .first(conn)
        .optional()?;
    let (usage_count, last_used_at, last_used_ip) =
        totals.map_or((0, None, None), |(count, at, ip)| (count, Some(at), ip));
    let recent_ips = token_ips::table
        .filter(token_ips::token_id.eq(&token.id))
        .order((token_ips::last_seen_at.desc(), token_ips::ip))
        .limit(RECENT_IPS)
        .select((token_ips::ip, token_ips::last_seen_at, token_ips::count))
        .load::<(String, NaiveDateTime, i64)>(conn)?
        .into_iter()
        .map(|(ip, last_seen_at, count)| RecentIp {
            ip,
            last_seen_at,
            count,
        })
        .collect();
    let today = Utc::now().date_naive();
    let first = today - TimeDelta::days(DAYS - 1);
    let counted: Vec<(String, i64)> = token_usage_daily::table
        .filter(token_usage_daily::token_id.eq(&token.id))
        .filter(token_usage_daily::day.ge(first.to_string()))
        .select((token_usage_daily::day, token_usage_daily::count))
        .load(conn)?;
    let daily = first
        .iter_days()
        .take_while(|day| *day <= today)
        .map(|day: NaiveDate| {
            let date = day.to_string();
            let count = counted
                .iter()
                .find(|(d, _)| *d == date)
                .map_or(0, |(_, c)| *c);
            DailyCount { date, count }
        })
        .collect();
    Ok(Usage {
        token_id: token.id,
        usage_count,
        last_used_at,
        last_used_ip,
        recent_ips,
        daily,
    })
}
