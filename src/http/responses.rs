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

/// Declares sets of error responses: each a type whose `IntoResponses` lists each status with its
/// description, after those of the sets it builds on (`Name: Base, … { … }`; its own statuses
/// win).
macro_rules! error_sets {
    ($(
        $(#[$doc:meta])* $name:ident $(: $($base:ident),+)?
        { $($status:literal => $description:literal),* $(,)? }
    )*) => {$(
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
    )*};
}

error_sets! {
    /// The error of a route that needs a session and refuses nothing else.
    NoSessionErrors {
        "401" => "No valid session",
    }

    /// The errors of a signed-in manager's route: no session, or a token instead of one.
    SessionErrors: NoSessionErrors {
        "403" => "`token_cannot_manage_tokens`",
    }

    /// The errors of a route about one token the caller manages.
    ManageErrors: SessionErrors {
        "404" => "No such token, or not yours",
    }

    /// The errors every directory route shares.
    DirectoryErrors {
        "401" => "No valid service token",
        "403" => "Missing the `directory` permission",
    }

    /// The errors of reading a JSON body: unreadable (or with an unknown field or a NUL
    /// character), too large, or of another content type.
    BodyErrors {
        "400" => "Unreadable body: invalid JSON, an unknown field or a NUL character",
        "408" => "The body did not arrive within 10 s",
        "413" => "The body is larger than 64 KiB",
        "415" => "The body is not application/json",
    }

    /// The errors of reading an OAuth body (introspection, revocation): JSON or a form.
    OAuthBodyErrors: BodyErrors {
        "400" => "Unreadable body: invalid JSON or form, an unknown JSON field or a NUL character",
        "415" => "Neither JSON nor a form",
    }

    /// The errors of a directory `PUT`: its body, its caller, its fields.
    PutErrors: BodyErrors, DirectoryErrors {
        "422" => "Invalid fields",
    }

    /// Why a bulk call was refused.
    BulkErrors: BodyErrors, SessionErrors {
        "422" => "No ids, or more than 100",
    }

    /// The errors of a page of tokens: a bad cursor, no session, a bad `limit` or filter.
    PageErrors: SessionErrors {
        "400" => "Bad cursor",
        "422" => "Bad `limit` or filter",
    }

    /// The errors of every service-token route.
    ServiceTokenErrors {
        "401" => "No valid service token",
        "403" => "Missing the `service_tokens` permission",
    }

    /// The errors of a route about one service token.
    OneServiceTokenErrors: ServiceTokenErrors {
        "403" => "Missing the `service_tokens` permission, or a permission the token holds",
        "404" => "No such service token",
    }

    /// The refusals of what a new name or new values may break: a taken name, invalid fields,
    /// or the organization's token policy.
    NameErrors {
        "409" => "`name_taken`",
        "422" => "`validation_failed` or `policy_violation`",
    }

    /// `POST /v1/tokens`.
    CreateTokenErrors: BodyErrors, SessionErrors, NameErrors {
        "403" => "`email_not_verified`, `api_tokens_disabled`, `forbidden` or `token_cannot_manage_tokens`",
    }

    /// `PATCH /v1/tokens/{id}`.
    UpdateTokenErrors: BodyErrors, ManageErrors, NameErrors {
        "409" => "`name_taken`, or the token is revoked",
    }

    /// `POST /v1/tokens/{id}/revoke`.
    RevokeTokenErrors: BodyErrors, ManageErrors {
        "422" => "Reason too long",
    }

    /// `POST /v1/tokens/{id}/regenerate`.
    RegenerateTokenErrors: BodyErrors, ManageErrors, NameErrors {
        "409" => "The token is revoked",
    }

    /// `POST /v1/tokens/{id}/duplicate`.
    DuplicateTokenErrors: BodyErrors, ManageErrors, NameErrors {
        "403" => "`token_cannot_manage_tokens`, or the rules of creation",
    }

    /// `PUT /v1/tokens/{id}/organizations/{org_id}`.
    AddOrganizationErrors: ManageErrors {
        "409" => "Not a personal token, or revoked",
        "422" => "Not a member, or `policy_violation`",
    }

    /// `DELETE /v1/tokens/{id}/organizations/{org_id}`.
    RemoveOrganizationErrors: ManageErrors {
        "409" => "The last organization, not a personal token, or revoked",
    }

    /// `POST /v1/tokens/{id}/organizations/{org_id}/sso-authorize`.
    SsoAuthorizeErrors: NoSessionErrors {
        "403" => "The session did not sign into the organization with SSO",
        "404" => "No such token, not yours, or not authorized for the organization",
        "409" => "The token is revoked",
    }

    /// `GET /v1/organizations/{org_id}/tokens`.
    OrganizationPageErrors: PageErrors {
        "404" => "No such organization, or not its admin",
    }

    /// `POST /v1/service-tokens`.
    CreateServiceTokenErrors: BodyErrors, ServiceTokenErrors, NameErrors {
        "403" => "Missing the `service_tokens` permission, or a permission the caller lacks",
    }

    /// `GET /v1/service-tokens`.
    ServiceTokenPageErrors: ServiceTokenErrors {
        "400" => "Bad cursor",
        "422" => "Bad `limit` or `status`",
    }

    /// `POST /v1/service-tokens/{id}/revoke`.
    RevokeServiceTokenErrors: BodyErrors, OneServiceTokenErrors {
        "422" => "Reason too long",
    }

    /// `POST /v1/service-tokens/{id}/regenerate`.
    RegenerateServiceTokenErrors: OneServiceTokenErrors {
        "409" => "The service token is revoked",
    }

    /// `GET` of one synced directory resource.
    DirectoryReadErrors: DirectoryErrors {
        "404" => "Not synced",
    }

    /// `PUT` of a membership.
    MembershipPutErrors: PutErrors {
        "404" => "Organization or user not synced",
    }

    /// `PUT` of a project.
    ProjectPutErrors: PutErrors {
        "404" => "Organization not synced",
    }

    /// `POST /v1/introspect`.
    IntrospectErrors: OAuthBodyErrors {
        "400" => "Unreadable body or a non-text X-Organization-ID",
        "401" => "No valid service token",
        "403" => "Missing the `introspect` permission",
        "422" => "No `token`",
    }

    /// `GET /v1/me`.
    MeErrors {
        "401" => "No valid token",
        "403" => "A session or service token instead of a token",
    }

    /// `POST /v1/revoke`.
    RevocationErrors: OAuthBodyErrors {
        "401" => "No valid credential",
        "403" => "A session, a service token without `revoke`, or a token naming another token",
        "422" => "No `token`",
    }

    /// `GET /v1/audit-events`.
    AuditErrors {
        "400" => "Bad cursor or `since`",
        "401" => "No valid credential",
        "403" => "A token, or a service token without `audit`",
        "422" => "Bad `limit`",
    }

    /// `/v1/forward-auth`.
    ForwardAuthErrors {
        "400" => "An unreadable header or query string",
        "401" => "No token, or not active (`WWW-Authenticate: Bearer error=\"invalid_token\"`; `Tokend-Reason` for gateways with `introspect_reasons`)",
        "403" => "Active but not allowed (`WWW-Authenticate: Bearer error=\"insufficient_scope\"`), or no gateway credential",
    }

    /// `GET /readyz`.
    ReadyErrors {
        "503" => "Database unreachable, or shutting down",
    }
}
