//! Serde helpers for request bodies.

use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// For `Option<Option<T>>` fields: absent → `None`, `null` → `Some(None)`, a value →
/// `Some(Some(v))` (so "leave as is" and "clear" differ). Use with `#[serde(default)]`.
pub fn present<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The kinds of body tokend reads, by the media type a `Content-Type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json`, or any `…+json`.
    Json,
    /// `application/x-www-form-urlencoded` (introspection and revocation, as OAuth sends them).
    Form,
}

impl Media {
    /// The media type of a `Content-Type` value (its parameters aside); `None` for another.
    #[must_use]
    pub fn of(content_type: Option<&str>) -> Option<Self> {
        let essence = content_type?.split(';').next()?.trim();
        let json_suffix = essence
            .len()
            .checked_sub(5)
            .and_then(|at| essence.get(at..))
            .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"));
        if essence.eq_ignore_ascii_case("application/json") || json_suffix {
            Some(Self::Json)
        } else if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            Some(Self::Form)
        } else {
            None
        }
    }
}

/// The 400 for unreadable JSON.
#[must_use]
pub fn invalid_json(error: &serde_json::Error) -> ApiError {
    ApiError::BadRequest(format!("invalid JSON body: {error}"))
}

/// Refuses text holding a NUL character (PostgreSQL cannot store one, so it is refused on both
/// backends alike): the 400 every body reader answers.
pub fn refuse_nul<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<(), ApiError> {
    if texts.into_iter().any(|text| text.contains('\0')) {
        return Err(nul_refused());
    }
    Ok(())
}

fn nul_refused() -> ApiError {
    ApiError::BadRequest("invalid body: text must not contain NUL characters".into())
}

/// Reads a JSON body into `T` by the rules of every body: unreadable JSON, a field `T` does not
/// know, or a NUL character in any string or key is a 400. A whole number written with a
/// fraction (`90.0`) is read as the integer it is, as JSON Schema counts it.
pub fn from_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid_json(&e))?;
    if settle(&mut value) {
        return Err(nul_refused());
    }
    T::deserialize(value).map_err(|e| invalid_json(&e))
}

/// One walk over a body: every number with a zero fraction that fits an `i64` becomes that
/// integer; `true` (and the walk stops: the body is refused) when a string or key holds a NUL
/// character.
fn settle(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            if let Some(whole) = number.as_f64().and_then(exact_integer) {
                *value = whole.into();
            }
            false
        }
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter_mut().any(settle),
        serde_json::Value::Object(fields) => fields
            .iter_mut()
            .any(|(key, field)| key.contains('\0') || settle(field)),
        _ => false,
    }
}

/// The integer a float is exactly, if any.
fn exact_integer(float: f64) -> Option<i64> {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the round trip below checks it"
    )]
    let whole = float as i64;
    #[expect(
        clippy::cast_precision_loss,
        clippy::float_cmp,
        reason = "comparing back to the float exactly is the check"
    )]
    let exact = float.fract() == 0.0 && whole as f64 == float;
    exact.then_some(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_anywhere_and_unreadable_json_are_refused() {
        let read = |body: &str| from_json::<serde_json::Value>(body.as_bytes());
        assert!(read(r#"{"name": "a\u0000b"}"#).is_err());
        assert!(read(r#"{"a\u0000": 1}"#).is_err());
        assert!(read(r#"[["\u0000"]]"#).is_err());
        assert!(read(r#"{"name": "#).is_err());
        assert!(
            read(r#"{"name": "a\\u0000b"}"#).is_ok(),
            "an escaped backslash is text"
        );
    }

    #[test]
    fn media_types_are_read_from_the_content_type() {
        for (content_type, media) in [
            (Some("application/json"), Some(Media::Json)),
            (Some("Application/JSON; charset=utf-8"), Some(Media::Json)),
            (Some("application/merge-patch+JSON"), Some(Media::Json)),
            (Some("application/x-www-form-urlencoded"), Some(Media::Form)),
            (Some("text/plain"), None),
            (Some("json"), None),
            (Some("é+json"), Some(Media::Json)),
            (Some("éjson"), None),
            (None, None),
        ] {
            assert_eq!(Media::of(content_type), media, "{content_type:?}");
        }
    }

    #[test]
    fn a_whole_number_with_a_fraction_is_an_integer() {
        #[derive(serde::Deserialize)]
        struct Days {
            days: i64,
        }
        let read = |body: &str| from_json::<Days>(body.as_bytes()).map(|d| d.days);
        assert_eq!(read(r#"{"days": 90.0}"#).ok(), Some(90));
        assert_eq!(read(r#"{"days": -3e2}"#).ok(), Some(-300));
        assert!(read(r#"{"days": 90.5}"#).is_err());
        assert!(read(r#"{"days": 1e300}"#).is_err());
    }
}
