//! `tokend service-token …`: the service-token use cases run against the configured database,
//! with the server up or down. Values go alone to stdout (for scripts), everything else to
//! stderr; a write is announced to running PostgreSQL instances so they drop what they cached.

use std::io::Write;

use clap::Subcommand;

use crate::auth::Permission;
use crate::changes::Committed;
use crate::config::Settings;
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::introspection::invalidation;
use crate::pagination::{Direction, PageRequest};
use crate::tokens::dto::{CreatedServiceToken, ServiceTokenResource};
use crate::tokens::list;
use crate::tokens::service::{self, NewServiceToken, Operator};

/// `tokend service-token …`
#[derive(Debug, Subcommand)]
pub enum ServiceTokenCommand {
    /// Create a service token: the value alone on stdout, metadata on stderr.
    Create {
        /// Name, unique among service tokens.
        #[arg(long)]
        name: String,
        /// A permission (repeat for several).
        #[arg(long = "permission", value_name = "PERMISSION", required = true)]
        permissions: Vec<Permission>,
    },
    /// List service tokens (id, name, hint, permissions, status, last use), newest first.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one service token as JSON.
    Show {
        /// The service token's id.
        id: String,
    },
    /// Revoke a service token: it stops working at once.
    Revoke {
        /// The service token's id.
        id: String,
        /// Why (kept with the token and in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Give a service token a new value: the value alone on stdout; the old one stops working.
    Regenerate {
        /// The service token's id.
        id: String,
    },
}

/// Runs one service-token command.
pub fn run(settings: &Settings, command: ServiceTokenCommand) -> Result<(), String> {
    db::run_pending(&settings.database_url).map_err(|e| e.to_string())?;
    let mut conn = settings
        .database_url
        .connect(false)
        .map_err(|e| format!("could not connect to the database: {e}"))?;
    let conn = &mut conn;
    match command {
        ServiceTokenCommand::Create { name, permissions } => {
            let request = NewServiceToken {
                name: &name,
                permissions: &permissions,
                ..NewServiceToken::default()
            };
            let created = write(conn, |conn, by| {
                service::create_resource(conn, &settings.peppers, &settings.prefixes, &request, by)
            })?;
            print_value(&created, "created")
        }
        ServiceTokenCommand::List { json } => {
            let tokens = all(conn).map_err(|e| e.detail())?;
            if json {
                print_json(&tokens)
            } else {
                print_table(&tokens)
            }
        }
        ServiceTokenCommand::Show { id } => {
            print_json(&service::show(conn, &id).map_err(|e| e.detail())?)
        }
        ServiceTokenCommand::Revoke { id, reason } => {
            let revoked = write(conn, |conn, by| service::revoke(conn, by, &id, reason))?;
            eprintln!("revoked service token {} ({:?})", revoked.id, revoked.name);
            Ok(())
        }
        ServiceTokenCommand::Regenerate { id } => {
            let created = write(conn, |conn, by| {
                service::regenerate(conn, &settings.peppers, &settings.prefixes, by, &id)
            })?;
            print_value(&created, "regenerated")
        }
    }
}

/// A use case in one transaction as the operator at the command line; the same transaction
/// announces its changes to running instances.
fn write<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection, &Operator) -> Result<Committed<T>, ApiError>,
) -> Result<T, String> {
    let committed = db::in_transaction(conn, |conn| {
        let committed = work(conn, &Operator::cli())?;
        invalidation::notify(conn, "cli", &committed.changes)?;
        Ok::<_, ApiError>(committed)
    })
    .map_err(|e| e.detail())?;
    Ok(committed.value)
}

/// Every service token, newest first.
fn all(conn: &mut DbConnection) -> Result<Vec<ServiceTokenResource>, ApiError> {
    let mut tokens = Vec::new();
    let mut request = PageRequest {
        limit: crate::pagination::MAX_LIMIT,
        direction: Direction::First,
    };
    loop {
        let page = list::service_tokens(conn, None, &request)?;
        tokens.extend(page.items);
        match (page.page_info.has_next_page, tokens.last()) {
            (true, Some(last)) => {
                request.direction = Direction::After(crate::pagination::Cursor::at(
                    last.created_at.naive_utc(),
                    &last.id,
                ));
            }
            _ => return Ok(tokens),
        }
    }
}

fn print_value(created: &CreatedServiceToken, verb: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", created.token.expose()).map_err(|e| e.to_string())?;
    let token = &created.resource;
    let permissions: Vec<&str> = token.permissions.iter().map(|p| p.as_str()).collect();
    eprintln!(
        "{verb} service token {} (name {:?}, hint {}, permissions {})",
        token.id,
        token.name,
        token.hint,
        permissions.join(",")
    );
    Ok(())
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    writeln!(std::io::stdout().lock(), "{text}").map_err(|e| e.to_string())
}

fn print_table(tokens: &[ServiceTokenResource]) -> Result<(), String> {
    let rows: Vec<[String; 6]> = tokens
        .iter()
        .map(|t| {
            [
                t.id.clone(),
                t.name.clone(),
                t.hint.clone(),
                t.permissions
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                t.status.as_str().to_owned(),
                t.last_used_at
                    .map_or_else(|| "never".to_owned(), |at| at.to_rfc3339()),
            ]
        })
        .collect();
    let header = ["ID", "NAME", "HINT", "PERMISSIONS", "STATUS", "LAST USED"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut stdout = std::io::stdout().lock();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(stdout, "{}", line.join("  ").trim_end()).map_err(|e| e.to_string())?;
    }
    Ok(())
}
