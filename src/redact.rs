//! Masks anything shaped like a token value in text bound for a log line or an error detail
//! (a client that puts a token in a URL or a JSON key must not have it echoed or logged).

use std::borrow::Cow;
use std::sync::{LazyLock, OnceLock};

use crate::tokens::kind::{Prefixes, TokenKind};

static INSTALLED: OnceLock<Prefixes> = OnceLock::new();
static DEFAULT: LazyLock<Prefixes> = LazyLock::new(Prefixes::default);

/// Sets the deployment's prefixes for [`configured`] (once, at start-up; later calls keep the
/// first).
pub fn install(prefixes: &Prefixes) {
    let _ = INSTALLED.set(prefixes.clone());
}

/// [`tokens`] with the installed prefixes (the defaults before start-up): for error details
/// and log fields, which are rendered where no configuration is at hand. Percent-encoded text
/// (a request target, a path segment) is decoded to be searched, so that `tolp%5F…` or
/// `tolp_%41…` is masked too; text that hides no token stays as sent (no decoded copy, and no
/// decoded line break in a log line).
#[must_use]
pub fn configured(text: &str) -> Cow<'_, str> {
    let prefixes = INSTALLED.get().unwrap_or(&DEFAULT);
    if text.contains('%') {
        let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        let masked = tokens(&decoded, prefixes);
        if masked != decoded {
            return Cow::Owned(masked.into_owned());
        }
    }
    tokens(text, prefixes)
}

/// What a masked value is replaced with, after its prefix.
pub const MASK: &str = "[redacted]";

/// Replaces every `prefix` + run of base62 characters in `text` with `prefix[redacted]`.
#[must_use]
pub fn tokens<'a>(text: &'a str, prefixes: &Prefixes) -> Cow<'a, str> {
    let prefix_list = TokenKind::ALL.map(|kind| prefixes.prefix(kind));
    if !prefix_list.iter().any(|p| text.contains(p)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, prefix)) = prefix_list
        .iter()
        .filter_map(|p| rest.find(p).map(|at| (at, *p)))
        .min_by_key(|(at, _)| *at)
    {
        out.push_str(&rest[..at + prefix.len()]);
        let tail = &rest[at + prefix.len()..];
        let secret_len = tail.bytes().take_while(u8::is_ascii_alphanumeric).count();
        if secret_len > 0 {
            out.push_str(MASK);
        }
        rest = &tail[secret_len..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_token_shaped_run_and_nothing_else() {
        let p = Prefixes::default();
        assert_eq!(tokens("/v1/orgs/acme", &p), "/v1/orgs/acme");
        assert_eq!(
            tokens("/x/tols_abcDEF123x?q=tolp_Zz9&k=tola_", &p),
            "/x/tols_[redacted]?q=tolp_[redacted]&k=tola_"
        );
        assert_eq!(
            tokens("unknown field `tolg_AAAA`", &p),
            "unknown field `tolg_[redacted]`"
        );
        assert_eq!(
            configured("/v1/x/tolp%5FAbc%41?ip=tola_%5a9"),
            "/v1/x/tolp_[redacted]?ip=tola_[redacted]"
        );
        assert!(matches!(
            configured("/v1/orgs/a%20b%0Ac"),
            Cow::Borrowed("/v1/orgs/a%20b%0Ac")
        ));
    }
}
