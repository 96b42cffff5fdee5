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
/// both backends alike) is a 400.
pub fn from_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let invalid =
        |error: serde_json::Error| ApiError::BadRequest(format!("invalid JSON body: {error}"));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(invalid)?;
    if holds_nul(&value) {
        return Err(ApiError::BadRequest(
            "invalid JSON body: text must not contain NUL characters".into(),
        ));
    }
    T::deserialize(value).map_err(invalid)
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
}
