//! Timestamps: stored as UTC `NaiveDateTime` (portable across both backends), shown as RFC 3339
//! with `Z`.

use chrono::{NaiveDateTime, SecondsFormat, Timelike};
use serde::Serializer;

/// The current time as stored, truncated to microseconds (both backends keep microseconds).
#[must_use]
pub fn now() -> NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    now.with_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now)
}

/// Serializes a stored timestamp as RFC 3339 UTC (`2026-11-22T10:00:00.123456Z`).
pub fn rfc3339<S: Serializer>(value: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&value.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// [`rfc3339`] for optional timestamps (`null` when absent).
pub fn rfc3339_opt<S: Serializer>(
    value: &Option<NaiveDateTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => rfc3339(v, serializer),
        None => serializer.serialize_none(),
    }
}
