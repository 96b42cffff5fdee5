//! Diesel table definitions, matching both migration folders (portable types only).

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        sso_enforced -> Bool,
        api_tokens_enabled -> Bool,
        require_expiry -> Bool,
        max_token_lifetime_days -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        email_verified -> Bool,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    memberships (organization_id, user_id) {
        organization_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    projects (organization_id, id) {
        organization_id -> Text,
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tokens (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        description -> Nullable<Text>,
        hint -> Text,
        digest -> Binary,
        pepper_id -> Text,
        owner_type -> Text,
        owner_id -> Text,
        created_by -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<Text>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    token_scopes (token_id, scope) {
        token_id -> Text,
        scope -> Text,
    }
}

diesel::table! {
    token_organizations (token_id, organization_id) {
        token_id -> Text,
        organization_id -> Text,
        sso_authorized_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        token_created_at -> Timestamp,
    }
}

diesel::table! {
    token_projects (token_id, project_id) {
        token_id -> Text,
        project_id -> Text,
    }
}

diesel::table! {
    token_usage (token_id) {
        token_id -> Text,
        usage_count -> BigInt,
        last_used_at -> Timestamp,
        last_used_ip -> Nullable<Text>,
    }
}

diesel::table! {
    token_usage_daily (token_id, day) {
        token_id -> Text,
        day -> Text,
        count -> BigInt,
    }
}

diesel::table! {
    token_ips (token_id, ip) {
        token_id -> Text,
        ip -> Text,
        last_seen_at -> Timestamp,
        count -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        #[sql_name = "type"]
        event_type -> Text,
        actor_type -> Text,
        actor_id -> Text,
        token_id -> Nullable<Text>,
        organization_id -> Nullable<Text>,
        client_ip -> Nullable<Text>,
        request_id -> Text,
        detail -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    usage_journal (id) {
        id -> BigInt,
        part -> Integer,
        body -> Binary,
    }
}

diesel::joinable!(memberships -> organizations (organization_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(projects -> organizations (organization_id));
diesel::joinable!(token_scopes -> tokens (token_id));
diesel::joinable!(token_organizations -> tokens (token_id));
diesel::joinable!(token_organizations -> organizations (organization_id));
diesel::joinable!(token_projects -> tokens (token_id));
diesel::joinable!(token_usage -> tokens (token_id));
diesel::joinable!(token_usage_daily -> tokens (token_id));
diesel::joinable!(token_ips -> tokens (token_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    users,
    memberships,
    projects,
    tokens,
    token_scopes,
    token_organizations,
    token_projects,
    token_usage,
    token_usage_daily,
    token_ips,
    usage_journal,
    audit_events,
);
