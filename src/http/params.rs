//! The path parameters of the `/v1` routes, read by the handlers (`Path<TokenPath>`) and
//! described once for the OpenAPI document (`params(TokenPath)`). Each is a struct of `String`
//! fields, documented with the schema it takes.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::directory::model::ExternalId;

/// Declares path-parameter structs: each field a `String`, with its description and the
/// schema the document gives it.
macro_rules! path_params {
    ($($(#[$doc:meta])* $name:ident { $($field:ident: $schema:ident = $description:tt),+ $(,)? })*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Deserialize, IntoParams)]
            #[into_params(parameter_in = Path)]
            pub struct $name {
                $(
                    #[doc = $description]
                    #[param(value_type = $schema, inline)]
                    pub $field: String,
                )+
            }
        )*
    };
}

path_params! {
    /// `/tokens/{id}…`.
    TokenPath { id: String = "The token's id (its `id` field, not its value)" }

    /// `/tokens/{id}/organizations/{org_id}…`.
    TokenOrganizationPath {
        id: String = "The token's id (its `id` field, not its value)",
        org_id: ExternalId = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)",
    }

    /// `/organizations/{org_id}/tokens`.
    OrganizationTokensPath {
        org_id: ExternalId = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)",
    }

    /// `/service-tokens/{id}…`.
    ServiceTokenPath { id: String = "The service token's id (its `id` field, not its value)" }

    /// `/directory/organizations/{id}`.
    OrganizationPath { id: ExternalId = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)" }

    /// `/directory/users/{id}`.
    UserPath { id: ExternalId = "The user's id on the platform (1–64 of `A-Za-z0-9._:-`)" }

    /// `/directory/organizations/{id}/members/{user_id}`.
    MembershipPath {
        id: ExternalId = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)",
        user_id: ExternalId = "The user's id on the platform (1–64 of `A-Za-z0-9._:-`)",
    }

    /// `/directory/organizations/{id}/projects/{project_id}`.
    ProjectPath {
        id: ExternalId = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)",
        project_id: ExternalId = "The project's id, unique in its organization (1–64 of `A-Za-z0-9._:-`)",
    }
}

/// A directory path's ids as the key of its [`Resource`](crate::directory::sync::Resource),
/// in path order.
macro_rules! directory_keys {
    ($($name:ident => $key:ty { $($field:ident),+ })*) => {
        $(
            impl From<$name> for $key {
                fn from(path: $name) -> Self {
                    ($(path.$field),+)
                }
            }
        )*
    };
}

directory_keys! {
    OrganizationPath => String { id }
    UserPath => String { id }
    MembershipPath => (String, String) { id, user_id }
    ProjectPath => (String, String) { id, project_id }
}
