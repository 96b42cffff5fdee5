//! Field checks shared by the directory resources.

use super::role::Role;
use crate::error::FieldError;

/// External ids: 1–64 characters of `A-Za-z0-9._:-`.
pub fn id(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if !ok {
        errors.push(FieldError::new(
            field,
            "must be 1-64 characters of A-Z a-z 0-9 . _ : -",
        ));
    }
}

/// A required display name of at most 200 characters, not blank; returns it trimmed.
pub fn name(field: &str, value: Option<&str>, errors: &mut Vec<FieldError>) -> String {
    match value {
        None => errors.push(FieldError::new(field, "is required")),
        Some(v) if v.trim().is_empty() || v.chars().count() > 200 => {
            errors.push(FieldError::new(field, "must be 1-200 characters"));
        }
        Some(v) => return v.trim().to_owned(),
    }
    String::new()
}

/// A required email address (one `@` with text on both sides, no blanks, at most 254
/// characters).
pub fn email(field: &str, value: Option<&str>, errors: &mut Vec<FieldError>) -> String {
    let Some(v) = value else {
        errors.push(FieldError::new(field, "is required"));
        return String::new();
    };
    let ok = v.chars().count() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
        && !v.chars().any(char::is_whitespace);
    if !ok {
        errors.push(FieldError::new(field, "must be an email address"));
    }
    v.to_owned()
}

/// A longest token lifetime: 1–36500 days, or none.
pub fn lifetime_days(field: &str, days: Option<i64>, errors: &mut Vec<FieldError>) {
    if days.is_some_and(|days| !(1..=36_500).contains(&days)) {
        errors.push(FieldError::new(
            field,
            "must be between 1 and 36500, or null",
        ));
    }
}

/// A required role: `owner`, `admin`, `member` or `viewer` (`viewer` stands in when it fails,
/// with the error recorded).
pub fn role(field: &str, value: Option<&str>, errors: &mut Vec<FieldError>) -> Role {
    match value.map(Role::from_name) {
        Some(Some(role)) => role,
        Some(None) => {
            errors.push(FieldError::new(
                field,
                "must be one of owner, admin, member, viewer",
            ));
            Role::Viewer
        }
        None => {
            errors.push(FieldError::new(field, "is required"));
            Role::Viewer
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_external_id_grammar() {
        for good in ["acme", "a", "org:1.2_3-x", &"x".repeat(64)] {
            let mut errors = Vec::new();
            id("id", good, &mut errors);
            assert!(errors.is_empty(), "{good}");
        }
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65)] {
            let mut errors = Vec::new();
            id("id", bad, &mut errors);
            assert_eq!(errors.len(), 1, "{bad}");
        }
    }

    #[test]
    fn emails_need_one_at_sign_with_both_sides() {
        for (value, ok) in [
            ("a@b.c", true),
            ("ab.c", false),
            ("@b", false),
            ("a@", false),
            ("a@b@c", false),
            ("a b@c", false),
            (" a@b.c", false),
        ] {
            let mut errors = Vec::new();
            email("email", Some(value), &mut errors);
            assert_eq!(errors.is_empty(), ok, "{value}");
        }
    }
}
