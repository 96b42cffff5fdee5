//! Logging through `tracing`, to stderr (stdout belongs to command output such as a new
//! token value), pretty or JSON. Request spans (`http::middleware::RequestSpan`) carry the
//! request id; nothing logs a token value.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// Installs the global subscriber once; `RUST_LOG` overrides the default level.
pub fn init(format: LogFormat) {
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    // actix's own debug and trace events print raw request paths and headers, which may hold a
    // token; they stay off whatever RUST_LOG says.
    for directive in ["actix_web=info", "actix_http=info"] {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::CLOSE);
    // A second init (tests starting several servers) keeps the first subscriber.
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
