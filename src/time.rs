//! Timestamps: stored as UTC `NaiveDateTime` (portable across both backends), shown as RFC 3339
//! with `Z`.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Timelike, Utc};
use serde::Serializer;

/// The current time as stored, truncated to microseconds (both backends keep microseconds).
#[must_use]
pub fn now() -> NaiveDateTime {
    stored(chrono::Utc::now())
}

/// A time as stored and compared: UTC, truncated to microseconds, so that SQLite (which would
/// keep a client's nanoseconds as text) and PostgreSQL (which drops them) agree, and a cursor
/// equals the time it was made from.
#[must_use]
pub fn stored(at: DateTime<Utc>) -> NaiveDateTime {
    let at = at.naive_utc();
    at.with_nanosecond(at.nanosecond() / 1000 * 1000)
        .unwrap_or(at)
}

/// Serializes a stored timestamp as RFC 3339 UTC (`2026-11-22T10:00:00.123456Z`), exactly as
/// `DateTime<Utc>` serializes itself. For rows that are also resources (the directory's); other
/// resources hold `DateTime<Utc>`.
pub fn rfc3339<S: Serializer>(value: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&value.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_keep_microseconds() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00.123456789+01:00")
            .map(|at| stored(at.with_timezone(&Utc)))
            .map(|at| at.to_string());
        assert_eq!(at.ok().as_deref(), Some("2026-12-01 09:00:00.123456"));
    }

    #[derive(serde::Serialize)]
    struct Shown {
        #[serde(serialize_with = "rfc3339")]
        stored: NaiveDateTime,
        utc: DateTime<Utc>,
    }

    #[test]
    fn stored_and_utc_times_show_alike() -> Result<(), serde_json::Error> {
        for text in [
            "2026-12-01T09:00:00.123456Z",
            "2026-12-01T09:00:00.120Z",
            "2026-12-01T09:00:00Z",
        ] {
            let utc = DateTime::parse_from_rfc3339(text)
                .map(|at| at.with_timezone(&Utc))
                .map_err(serde::ser::Error::custom)?;
            let shown = serde_json::to_value(Shown {
                stored: stored(utc),
                utc,
            })?;
            assert_eq!(shown["stored"], text);
            assert_eq!(shown["utc"], text);
        }
        Ok(())
    }
}
