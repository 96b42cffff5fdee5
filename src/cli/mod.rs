//! The command line: `serve`, `migrate`, `openapi`, `service-token
//! create|list|show|revoke|regenerate`, `dev-session`, `check-token`.

mod service_token;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::auth::session;
use crate::config::{Loaded, RawConfig};
use crate::http::openapi;
use crate::tokens::secret;
use crate::{app, db, telemetry};

pub use service_token::ServiceTokenCommand;

/// tokend: create, list, rotate, revoke and introspect API tokens.
#[derive(Debug, Parser)]
#[command(name = "tokend", version, about)]
pub struct Cli {
    /// A TOML file with the same keys as the TOKEND_* variables (the environment wins).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document to stdout.
    Openapi,
    /// Manage service tokens.
    #[command(subcommand)]
    ServiceToken(ServiceTokenCommand),
    /// Print a session JWT signed with the configured HS256 key (development only).
    DevSession {
        /// The user id (`sub`).
        #[arg(long)]
        user: String,
        /// The email claim (default: USER@example.test).
        #[arg(long)]
        email: Option<String>,
        /// Mark the email as not verified.
        #[arg(long)]
        unverified: bool,
        /// An organization signed into with SSO in this session (repeatable).
        #[arg(long = "sso-org", value_name = "ORG")]
        sso_orgs: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
    /// Check a token value's format and checksum offline (exit 0 valid, 1 invalid).
    CheckToken {
        /// The value, or `-` to read it from stdin (keeps it out of shell history).
        value: String,
    },
}

/// Runs a parsed command line.
#[must_use]
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Openapi => {
            print!("{}", openapi::document());
            ExitCode::SUCCESS
        }
        Command::CheckToken { value } => check_token(cli.config.as_deref(), &value),
        command => match load(cli.config.as_deref()) {
            Ok(loaded) => with_settings(command, loaded),
            Err(message) => {
                eprintln!("tokend: {message}");
                ExitCode::from(2)
            }
        },
    }
}

fn load(file: Option<&std::path::Path>) -> Result<Loaded, String> {
    let loaded = RawConfig::load(file)
        .and_then(RawConfig::into_settings)
        .map_err(|e| e.to_string())?;
    telemetry::init(loaded.settings.log_format);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    Ok(loaded)
}

fn with_settings(command: Command, loaded: Loaded) -> ExitCode {
    let settings = loaded.settings;
    let result = match command {
        Command::Serve => actix_web::rt::System::new()
            .block_on(app::serve(settings))
            .map_err(|e| e.to_string()),
        Command::Migrate => db::run_pending(&settings.database_url)
            .map(|applied| eprintln!("applied {} migration(s): {applied:?}", applied.len()))
            .map_err(|e| e.to_string()),
        Command::ServiceToken(command) => service_token::run(&settings, command),
        Command::DevSession {
            user,
            email,
            unverified,
            sso_orgs,
            ttl,
        } => dev_session(
            &settings,
            &user,
            email.as_deref(),
            !unverified,
            sso_orgs,
            ttl,
        ),
        Command::Openapi | Command::CheckToken { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tokend: {message}");
            ExitCode::FAILURE
        }
    }
}

fn dev_session(
    settings: &crate::config::Settings,
    user: &str,
    email: Option<&str>,
    email_verified: bool,
    sso_orgs: Vec<String>,
    ttl: i64,
) -> Result<(), String> {
    let jwt = session::dev_session(settings, user, email, email_verified, sso_orgs, ttl)?;
    println!("{jwt}");
    Ok(())
}

fn check_token(config: Option<&std::path::Path>, value: &str) -> ExitCode {
    let prefixes = match RawConfig::load(config).and_then(|raw| raw.prefixes()) {
        Ok(prefixes) => prefixes,
        Err(e) => {
            eprintln!("tokend: {e}");
            return ExitCode::from(2);
        }
    };
    let mut line = String::new();
    let value = if value == "-" {
        if std::io::stdin().lock().read_line(&mut line).is_err() {
            eprintln!("tokend: could not read the value from stdin");
            return ExitCode::FAILURE;
        }
        line.trim()
    } else {
        value.trim()
    };
    match secret::parse(&prefixes, value) {
        Ok(kind) => {
            println!(
                "valid: a well-formed {} token (format and checksum only; not checked against the database)",
                kind.as_str()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("invalid: {e}");
            ExitCode::FAILURE
        }
    }
}
