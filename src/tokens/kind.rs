//! Token kinds and the configurable prefixes that mark them.
//!
//! Every token value starts with a short prefix naming its kind (`tolp_` for a
//! personal token by default), so that a leaked value can be recognised by
//! secret scanners and routed to the right owner without a database lookup.
//! This module owns the closed set of kinds and the rules a prefix set must
//! follow for that recognition to be unambiguous.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a token is issued for; decides its prefix and which rules apply to it. Written in
/// lowercase: `personal`, `agent`, `api` or `service`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A token a person creates for their own use (scripts, CLIs).
    Personal,
    /// A token held by an automated agent acting on someone's behalf.
    Agent,
    /// A token for a third-party integration calling the public API.
    Api,
    /// A token for one internal service calling another.
    Service,
}

impl TokenKind {
    /// Every kind, in declaration order, so callers can iterate without
    /// keeping their own list in sync with the enum.
    pub const ALL: [TokenKind; 4] = [
        TokenKind::Personal,
        TokenKind::Agent,
        TokenKind::Api,
        TokenKind::Service,
    ];

    /// The stable lowercase name of the kind, as stored and sent over the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::Agent => "agent",
            TokenKind::Api => "api",
            TokenKind::Service => "service",
        }
    }
}

/// Returned when a string names no [`TokenKind`] or [`OwnerType`], so that callers can turn a
/// bad query parameter or stored value into a clear error instead of a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown {0}")]
pub struct UnknownName(pub(crate) &'static str);

/// Reads a closed set of names back (`FromStr`, and `TryFrom<String>` for stored rows) through
/// the type's `ALL` and `as_str`: a stored name tokend does not know fails to load (a 500 that
/// names the cause in the log) instead of passing for another value.
macro_rules! named {
    ($type:ty, $unknown:expr) => {
        impl std::str::FromStr for $type {
            type Err = <$type as TryFrom<String>>::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|value| value.as_str() == s)
                    .ok_or($unknown)
            }
        }

        impl TryFrom<String> for $type {
            type Error = $crate::tokens::kind::UnknownName;

            fn try_from(stored: String) -> Result<Self, Self::Error> {
                stored.parse()
            }
        }
    };
}

pub(crate) use named;

/// Checks a named set: every value serializes to its stored name and reads back from it, and
/// `unknown` does not read.
#[cfg(test)]
pub(crate) fn assert_named<T>(
    all: impl IntoIterator<Item = T>,
    name: fn(T) -> &'static str,
    unknown: &str,
) where
    T: Copy + std::fmt::Debug + PartialEq + Serialize + std::str::FromStr,
{
    for value in all {
        let json = serde_json::to_value(value).ok();
        assert_eq!(json, Some(serde_json::json!(name(value))));
        assert_eq!(name(value).parse::<T>().ok(), Some(value));
    }
    assert!(unknown.parse::<T>().is_err(), "{unknown}");
}

named!(
    TokenKind,
    UnknownName("token kind: expected one of personal, agent, api, service")
);

/// Whose a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OwnerType {
    /// A user (personal and agent tokens).
    User,
    /// An organization (api tokens).
    Organization,
    /// Nobody: service tokens.
    Service,
}

impl OwnerType {
    /// Every owner type.
    pub const ALL: [OwnerType; 3] = [Self::User, Self::Organization, Self::Service];

    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Organization => "organization",
            Self::Service => "service",
        }
    }

    /// Whose a token of `kind` is.
    #[must_use]
    pub fn of(kind: TokenKind) -> Self {
        match kind {
            TokenKind::Personal | TokenKind::Agent => Self::User,
            TokenKind::Api => Self::Organization,
            TokenKind::Service => Self::Service,
        }
    }
}

named!(
    OwnerType,
    UnknownName("owner type: expected one of user, organization, service")
);

/// The prefix each [`TokenKind`] carries at the start of its values.
///
/// Configurable so that a deployment can use its own recognisable prefixes;
/// call [`Prefixes::validate`] on any set read from configuration before use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefixes {
    /// Prefix of [`TokenKind::Personal`] values.
    pub personal: String,
    /// Prefix of [`TokenKind::Agent`] values.
    pub agent: String,
    /// Prefix of [`TokenKind::Api`] values.
    pub api: String,
    /// Prefix of [`TokenKind::Service`] values.
    pub service: String,
}

impl Default for Prefixes {
    /// The built-in prefixes: `tolp_`, `tolg_`, `tola_` and `tols_`.
    fn default() -> Self {
        Prefixes {
            personal: "tolp_".to_owned(),
            agent: "tolg_".to_owned(),
            api: "tola_".to_owned(),
            service: "tols_".to_owned(),
        }
    }
}

/// Shortest prefix accepted by [`Prefixes::validate`].
const MIN_PREFIX_LEN: usize = 2;
/// Longest prefix accepted by [`Prefixes::validate`].
const MAX_PREFIX_LEN: usize = 16;

impl Prefixes {
    /// The prefix configured for `kind`.
    #[must_use]
    pub fn prefix(&self, kind: TokenKind) -> &str {
        match kind {
            TokenKind::Personal => &self.personal,
            TokenKind::Agent => &self.agent,
            TokenKind::Api => &self.api,
            TokenKind::Service => &self.service,
        }
    }

    /// Checks that the set can identify a kind unambiguously from a value.
    ///
    /// Each prefix must be 2–16 characters of `a-z`, `0-9` and `_`, and end with
    /// `_` (which never occurs in a token body, so the prefix boundary is
    /// visible). The four must be distinct and none may be a prefix of another,
    /// so at most one prefix ever matches a value.
    ///
    /// # Errors
    ///
    /// A human-readable description naming the offending kind and prefix.
    pub fn validate(&self) -> Result<(), String> {
        for kind in TokenKind::ALL {
            let prefix = self.prefix(kind);
            let name = kind.as_str();
            if !(MIN_PREFIX_LEN..=MAX_PREFIX_LEN).contains(&prefix.len()) {
                return Err(format!(
                    "{name} token prefix {prefix:?} must be {MIN_PREFIX_LEN} to {MAX_PREFIX_LEN} characters long"
                ));
            }
            if !prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(format!(
                    "{name} token prefix {prefix:?} may only contain a-z, 0-9 and '_'"
                ));
            }
            if !prefix.ends_with('_') {
                return Err(format!("{name} token prefix {prefix:?} must end with '_'"));
            }
        }
        for (i, a) in TokenKind::ALL.into_iter().enumerate() {
            for b in TokenKind::ALL.into_iter().skip(i + 1) {
                let (pa, pb) = (self.prefix(a), self.prefix(b));
                if pa == pb {
                    return Err(format!(
                        "{} and {} tokens share the prefix {pa:?}; prefixes must be distinct",
                        a.as_str(),
                        b.as_str()
                    ));
                }
                if pa.starts_with(pb) || pb.starts_with(pa) {
                    return Err(format!(
                        "{} token prefix {pa:?} and {} token prefix {pb:?} overlap; \
                         no prefix may start another",
                        a.as_str(),
                        b.as_str()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The kind whose prefix `value` starts with, if any.
    ///
    /// Only looks at the prefix; use the token format's `parse` to check that
    /// the rest of the value is well formed. With a validated set at most one
    /// prefix can match.
    #[must_use]
    pub fn kind_of(&self, value: &str) -> Option<TokenKind> {
        TokenKind::ALL
            .into_iter()
            .find(|&kind| value.starts_with(self.prefix(kind)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_and_from_str_round_trip_for_every_kind() {
        for kind in TokenKind::ALL {
            assert_eq!(kind.as_str().parse::<TokenKind>(), Ok(kind));
        }
        assert_eq!(TokenKind::Personal.as_str(), "personal");
        assert_eq!(TokenKind::Agent.as_str(), "agent");
        assert_eq!(TokenKind::Api.as_str(), "api");
        assert_eq!(TokenKind::Service.as_str(), "service");
    }

    #[test]
    fn from_str_rejects_unknown_and_names_accepted_values() {
        assert!("Personal".parse::<TokenKind>().is_err());
        let message = "".parse::<TokenKind>().err().map(|e| e.to_string());
        for kind in TokenKind::ALL {
            assert!(
                message.as_ref().is_some_and(|m| m.contains(kind.as_str())),
                "{message:?}"
            );
        }
        for owner in OwnerType::ALL {
            assert_eq!(owner.as_str().parse::<OwnerType>(), Ok(owner));
            assert_eq!(OwnerType::try_from(owner.as_str().to_owned()), Ok(owner));
        }
        assert!(OwnerType::try_from("group".to_owned()).is_err());
    }

    #[test]
    fn serde_uses_lowercase_names() {
        for kind in TokenKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<TokenKind>(&json).unwrap(), kind);
        }
        assert!(serde_json::from_str::<TokenKind>("\"API\"").is_err());
    }

    #[test]
    fn default_prefixes_are_valid_and_map_to_kinds() {
        let prefixes = Prefixes::default();
        assert_eq!(prefixes.validate(), Ok(()));
        assert_eq!(prefixes.prefix(TokenKind::Personal), "tolp_");
        assert_eq!(prefixes.prefix(TokenKind::Agent), "tolg_");
        assert_eq!(prefixes.prefix(TokenKind::Api), "tola_");
        assert_eq!(prefixes.prefix(TokenKind::Service), "tols_");
    }

    #[test]
    fn kind_of_finds_the_matching_prefix() {
        let prefixes = Prefixes::default();
        for kind in TokenKind::ALL {
            let value = format!("{}abc", prefixes.prefix(kind));
            assert_eq!(prefixes.kind_of(&value), Some(kind));
        }
        assert_eq!(prefixes.kind_of("tolx_abc"), None);
        assert_eq!(prefixes.kind_of("tol"), None);
        assert_eq!(prefixes.kind_of(""), None);
    }

    fn with(kind: TokenKind, prefix: &str) -> Prefixes {
        let mut prefixes = Prefixes::default();
        match kind {
            TokenKind::Personal => prefixes.personal = prefix.to_owned(),
            TokenKind::Agent => prefixes.agent = prefix.to_owned(),
            TokenKind::Api => prefixes.api = prefix.to_owned(),
            TokenKind::Service => prefixes.service = prefix.to_owned(),
        }
        prefixes
    }

    #[test]
    fn validate_rejects_bad_length_characters_and_missing_underscore() {
        assert!(with(TokenKind::Api, "_").validate().is_err());
        assert!(
            with(TokenKind::Api, "a234567890123456_")
                .validate()
                .is_err()
        );
        assert!(with(TokenKind::Api, "Tola_").validate().is_err());
        assert!(with(TokenKind::Api, "to-a_").validate().is_err());
        assert!(with(TokenKind::Api, "tola").validate().is_err());
        assert!(with(TokenKind::Api, "x_").validate().is_ok());
        assert!(with(TokenKind::Api, "my_api_").validate().is_ok());
        assert!(with(TokenKind::Api, "a23456789012345_").validate().is_ok());
    }

    #[test]
    fn validate_rejects_duplicate_and_overlapping_prefixes() {
        let duplicate = with(TokenKind::Api, "tolp_");
        let err = duplicate.validate().unwrap_err();
        assert!(err.contains("distinct"), "{err}");

        let overlapping = with(TokenKind::Api, "tolp_x_");
        let err = overlapping.validate().unwrap_err();
        assert!(err.contains("overlap"), "{err}");
    }
}
