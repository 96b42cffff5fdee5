//! Reading a token's usage back (`GET /v1/tokens/{id}/usage`): totals, recent addresses and
//! daily counts, for the token's managers.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
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

/// One client address a token was used from, with its uses.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecentIp {
    /// The client IP address (IPv4 or IPv6) the token was used from.
    #[schema(example = "203.0.113.7")]
    pub ip: String,
    /// When the token was last used from this address, as an RFC 3339 UTC timestamp.
    #[schema(example = "2026-12-14T08:02:31.907112Z")]
    pub last_seen_at: DateTime<Utc>,
    /// How many times the token was used from this address.
    #[schema(example = 212)]
    pub count: i64,
}

/// How many times a token was used on one UTC day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DailyCount {
    /// The UTC day, as `YYYY-MM-DD`.
    #[schema(example = "2026-12-14")]
    pub date: String,
    /// How many times the token was used that day (0 on a day without use).
    #[schema(example = 37)]
    pub count: i64,
}

/// A token's usage (written in batches: up to one flush interval behind, and up to 30 s when
/// 1,000 tokens or more are used in one interval).
#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    /// The id of the token this usage is of.
    #[schema(example = "01a232af-10f1-7487-94da-bb310d64cc80")]
    pub token_id: String,
    /// How many times the token has been used in all: active introspection and forward-auth
    /// answers, and calls it authenticated.
    #[schema(example = 1284)]
    pub usage_count: i64,
    /// When the token was last used, as an RFC 3339 UTC timestamp; `null` if it was never used.
    #[schema(example = "2026-12-14T08:02:31.907112Z")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The client IP address of the latest use; `null` if the token was never used or that
    /// use had no known address.
    #[schema(example = "203.0.113.7")]
    pub last_used_ip: Option<String>,
    /// Up to 10 client addresses the token was used from, most recently seen first.
    #[schema(example = json!([{"ip": "203.0.113.7", "last_seen_at": "2026-12-14T08:02:31.907112Z", "count": 212}]))]
    pub recent_ips: Vec<RecentIp>,
    /// Use counts for each of the last 90 UTC days, oldest first, days without use included
    /// with a count of 0.
    #[schema(example = json!([{"date": "2026-12-13", "count": 0}, {"date": "2026-12-14", "count": 37}]))]
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
        .get_result(conn)
        .optional()?;
    let (usage_count, last_used_at, last_used_ip) = totals
        .map_or((0, None, None), |(count, at, ip)| {
            (count, Some(at.and_utc()), ip)
        });
    let recent_ips = token_ips::table
        .filter(token_ips::token_id.eq(&token.id))
        .order((token_ips::last_seen_at.desc(), token_ips::ip))
        .limit(RECENT_IPS)
        .select((token_ips::ip, token_ips::last_seen_at, token_ips::count))
        .load::<(String, NaiveDateTime, i64)>(conn)?
        .into_iter()
        .map(|(ip, last_seen_at, count)| RecentIp {
            ip,
            last_seen_at: last_seen_at.and_utc(),
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
