//! The error responses that several operations share, declared once for the OpenAPI
//! document (`responses(…, ManageErrors)` in a handler's `#[utoipa::path]`): each is a set of
//! statuses answered with a `Problem` body.

use std::collections::BTreeMap;

use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// One error response: an `application/problem+json` body with the `Problem` schema, as the
/// server sends it.
pub(super) fn problem(description: &str) -> RefOr<Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", content)
        .build()
        .into()
}

/// Declares a set of error responses: a type whose `IntoResponses` lists each status with its
/// description, after those of the sets it builds on (`Name: Base, … { … }`; its own statuses
/// win).
macro_rules! error_set {
    (
        $(#[$doc:meta])* $name:ident $(: $($base:ident),+)?
        { $($status:literal => $description:literal),* $(,)? }
    ) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                let mut all = BTreeMap::new();
                $($(all.extend(<$base as utoipa::IntoResponses>::responses());)+)?
                $(all.insert($status.to_string(), problem($description));)*
                all
            }
        }
    };
}

error_set!(
    /// The errors of a signed-in manager's route: no session, or a token instead of one.
    SessionErrors {
        "401" => "No valid session",
        "403" => "`token_cannot_manage_tokens`",
    }
);

error_set!(
    /// The errors of a route about one token the caller manages.
    ManageErrors: SessionErrors {
        "404" => "No such token, or not yours",
    }
);

error_set!(
    /// The errors every directory route shares.
    DirectoryErrors {
        "401" => "No valid service token",
        "403" => "Missing the `directory` permission",
    }
);

error_set!(
    /// The errors of reading a JSON body: unreadable (or with an unknown field or a NUL
    /// character), too large, or of another content type.
    BodyErrors {
        "400" => "Unreadable body: invalid JSON, an unknown field or a NUL character",
        "408" => "The body did not arrive within 10 s",
        "413" => "The body is larger than 64 KiB",
        "415" => "The body is not application/json",
    }
);

error_set!(
    /// The errors of reading an OAuth body (introspection, revocation): JSON or a form.
    OAuthBodyErrors: BodyErrors {
        "400" => "Unreadable body: invalid JSON or form, an unknown JSON field or a NUL character",
        "415" => "Neither JSON nor a form",
    }
);

error_set!(
    /// The errors of a directory `PUT`: its body, its caller, its fields.
    PutErrors: BodyErrors, DirectoryErrors {
        "422" => "Invalid fields",
    }
);

error_set!(
    /// Why a bulk call was refused.
    BulkErrors: BodyErrors, SessionErrors {
        "422" => "No ids, or more than 100",
    }
);

error_set!(
    /// The errors of a page of tokens: a bad cursor, no session, a bad `limit` or filter.
    PageErrors: SessionErrors {
        "400" => "Bad cursor",
        "422" => "Bad `limit` or filter",
    }
);

error_set!(
    /// The errors of every service-token route.
    ServiceTokenErrors {
        "401" => "No valid service token",
        "403" => "Missing the `service_tokens` permission",
    }
);

error_set!(
    /// The errors of a route about one service token.
    OneServiceTokenErrors: ServiceTokenErrors {
        "403" => "Missing the `service_tokens` permission, or a permission the token holds",
        "404" => "No such service token",
    }
);
