//! What a service token may do.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A permission carried by a `service` token.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Permission {
    /// Call `POST /v1/introspect`.
    Introspect,
    /// Learn why an inactive token is inactive.
    IntrospectReasons,
    /// Revoke tokens by value (RFC 7009).
    Revoke,
    /// Sync organizations, users, memberships and projects.
    Directory,
    /// Read all audit events.
    Audit,
    /// Create service tokens.
    ServiceTokens,
}

impl Permission {
    /// Every permission, in documentation order.
    pub const ALL: [Permission; 6] = [
        Self::Introspect,
        Self::IntrospectReasons,
        Self::Revoke,
        Self::Directory,
        Self::Audit,
        Self::ServiceTokens,
    ];

    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Introspect => "introspect",
            Self::IntrospectReasons => "introspect_reasons",
            Self::Revoke => "revoke",
            Self::Directory => "directory",
            Self::Audit => "audit",
            Self::ServiceTokens => "service_tokens",
        }
    }
}

crate::tokens::kind::named!(
    Permission,
    crate::tokens::kind::UnknownName(
        "permission: expected one of introspect, introspect_reasons, revoke, directory, audit, \
         service_tokens"
    )
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_are_the_wire_names() {
        crate::tokens::kind::assert_named(Permission::ALL, Permission::as_str, "root");
    }
}
