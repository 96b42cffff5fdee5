//! Seeds a tokend database for the load benchmark through the library: one organization, one
//! member (its admin), a `gateway` service token with `introspect`, and N personal tokens of
//! that member. Writes the gateway value, the token values (one per line) and a session of the
//! member (HS256, one day) into `OUT_DIR`: benchmark data only.
//!
//! Usage: `TOKEND_DATABASE_URL=… TOKEND_PEPPERS=… cargo run --release --example seed -- N OUT_DIR`

use std::io::Write;

use diesel::Connection;
use tokend::auth::Permission;
use tokend::config::RawConfig;
use tokend::db::{self, DbConnection};
use tokend::tokens::issue::{self, Spec};
use tokend::tokens::kind::TokenKind;
use tokend::tokens::service::{self, NewServiceToken, Operator};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const BATCH: usize = 2_000;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().ok_or("usage: seed N OUT_DIR")?.parse()?;
    let out = std::path::PathBuf::from(args.next().ok_or("usage: seed N OUT_DIR")?);
    std::fs::create_dir_all(&out)?;
    let settings = RawConfig::load(None)?.into_settings()?.settings;
    db::run_pending(&settings.database_url)?;
    let mut conn = settings.database_url.connect(false)?;
    directory(&mut conn)?;

    let (_, gateway) = conn.transaction(|conn| {
        service::create(
            conn,
            &settings.peppers,
            &settings.prefixes,
            &NewServiceToken {
                name: &format!("gateway-{}", uuid::Uuid::now_v7()),
                permissions: &[Permission::Introspect],
                ..NewServiceToken::default()
            },
            &Operator::cli(),
        )
    })?;
    std::fs::write(out.join("gateway"), gateway.expose())?;
    std::fs::write(out.join("session"), session(&settings)?)?;

    let mut values = std::io::BufWriter::new(std::fs::File::create(out.join("tokens"))?);
    let scopes = vec!["read".to_owned(), "write:projects".to_owned()];
    let orgs = vec!["bench".to_owned()];
    let started = std::time::Instant::now();
    let mut written = 0;
    while written < count {
        let n = BATCH.min(count - written);
        let batch = conn.transaction(|conn| {
            (0..n)
                .map(|i| {
                    let name = format!("bench-{}-{}", written + i, uuid::Uuid::now_v7());
                    issue::issue(
                        conn,
                        &settings.peppers,
                        &settings.prefixes,
                        &Spec {
                            kind: TokenKind::Personal,
                            name: &name,
                            description: None,
                            scopes: &scopes,
                            organization_ids: &orgs,
                            project_ids: &[],
                            owner_type: tokend::tokens::kind::OwnerType::User,
                            owner_id: "bench-user",
                            created_by: Some("bench-user"),
                            expires_at: None,
                        },
                    )
                    .map(|(_, value)| value)
                })
                .collect::<std::result::Result<Vec<_>, _>>()
        })?;
        for value in batch {
            writeln!(values, "{}", value.expose())?;
        }
        written += n;
    }
    values.flush()?;
    eprintln!(
        "seeded {count} tokens in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A session of the member, for the list and create rows.
fn session(settings: &tokend::config::Settings) -> Result<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = tokend::auth::session::Claims {
        sub: "bench-user".to_owned(),
        email: Some("bench@example.com".to_owned()),
        email_verified: true,
        auth_time: Some(now),
        sso_orgs: Vec::new(),
        exp: now + 86_400,
        iat: Some(now),
        iss: settings.session_issuer.clone(),
        aud: settings.session_audience.clone(),
    };
    Ok(tokend::auth::session::sign_dev_session(settings, &claims)?)
}

/// The organization and member the tokens belong to (idempotent).
fn directory(conn: &mut DbConnection) -> Result<()> {
    use diesel::prelude::*;
    use tokend::db::schema::{memberships, organizations, users};
    let now = chrono::Utc::now().naive_utc();
    conn.transaction(|conn| {
        if tokend::directory::repo::organization(conn, "bench")?.is_none() {
            diesel::insert_into(organizations::table)
                .values((
                    organizations::id.eq("bench"),
                    organizations::name.eq("Bench"),
                    organizations::created_at.eq(now),
                    organizations::updated_at.eq(now),
                ))
                .execute(conn)?;
            diesel::insert_into(users::table)
                .values((
                    users::id.eq("bench-user"),
                    users::email.eq("bench@example.com"),
                    users::email_verified.eq(true),
                    users::created_at.eq(now),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
            diesel::insert_into(memberships::table)
                .values((
                    memberships::organization_id.eq("bench"),
                    memberships::user_id.eq("bench-user"),
                    memberships::role.eq("admin"),
                    memberships::created_at.eq(now),
                    memberships::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}
