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

/// Reads a JSON body into `T` by the rules of every body: unreadable JSON, a field `T` does not
/// know, or a NUL character in any string (PostgreSQL cannot store one, so it is refused on
/// both backends alike) is a 400. A whole number written with a fraction (`90.0`) is read as
/// the integer it is, as JSON Schema counts it.
pub fn from_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let invalid =
        |error: serde_json::Error| ApiError::BadRequest(format!("invalid JSON body: {error}"));
    let mut value: serde_json::Value = serde_json::from_slice(body).map_err(invalid)?;
    whole_numbers(&mut value);
    if holds_nul(&value) {
        return Err(ApiError::BadRequest(
            "invalid JSON body: text must not contain NUL characters".into(),
        ));
    }
    T::deserialize(value).map_err(invalid)
}

/// Turns every number with a zero fraction that fits an `i64` into that integer.
fn whole_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            if let Some(whole) = number.as_f64().and_then(exact_integer) {
                *value = whole.into();
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
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

/// Whether any string (or object key) in `value` contains a NUL character.
fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        _ => false,
    }
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
