//! Token values: generation, the offline format check, display hints, and the
//! peppered digests under which values are stored.
//!
//! The format is a contract shared with clients and secret scanners:
//!
//! ```text
//! value    = prefix body checksum
//! body     = 32 characters of base62 (0-9A-Za-z), uniform from the OS CSPRNG
//! checksum = crc32(prefix body) as exactly 6 base62 digits, most significant
//!            first, alphabet 0-9A-Za-z, left-padded with '0'
//! ```
//!
//! With the default 5-character prefixes a value is 43 characters long. The
//! checksum lets [`parse`] reject typos and random strings without touching the
//! database; it is not a security boundary.
//!
//! The service never stores a value: it stores an HMAC-SHA256 [`Digest`] of it
//! under a server-side key (a "pepper", see [`Peppers`]), so a database leak
//! alone does not let anyone check guesses. Several peppers may be configured
//! at once so that the key can be rotated while old tokens keep working.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::kind::{Prefixes, TokenKind};

/// Number of random base62 characters after the prefix; 32 characters carry
/// about 190 bits of entropy, far beyond guessing range.
pub const BODY_LEN: usize = 32;

/// Number of base62 characters the CRC-32 checksum is encoded in
/// (62^6 > 2^32, so every CRC fits).
pub const CHECKSUM_LEN: usize = 6;

/// Number of body characters kept in a [`hint`]: enough for a person to tell
/// their tokens apart, far too few to help guess the rest.
pub const HINT_BODY_CHARS: usize = 4;

/// Shortest pepper secret accepted, in bytes, so that the HMAC key has at least
/// 256 bits of material when the secret is random.
pub const MIN_PEPPER_LEN: usize = 32;

/// Longest pepper id accepted; ids are stored next to each digest.
const MAX_PEPPER_ID_LEN: usize = 32;

/// Digits of the checksum encoding, in value order.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A token's plaintext value.
///
/// It exists so that the plaintext cannot leak by accident: it is not `Clone`,
/// has no `Display` and no `Serialize`, and its `Debug` output is redacted.
/// Reading it takes an explicit [`TokenValue::expose`] or
/// [`TokenValue::into_exposed`], which is easy to audit.
pub struct TokenValue(String);

impl TokenValue {
    /// Borrows the plaintext, e.g. to digest it or to hint it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Hands over the plaintext, e.g. to return it to its creator exactly once.
    #[must_use]
    pub fn into_exposed(self) -> String {
        self.0
    }
}

/// Writes the plaintext into a response body (`#[serde(serialize_with)]` on the one field that
/// returns a new value to its creator); `TokenValue` itself does not implement `Serialize`.
pub fn serialize_exposed<S: serde::Serializer>(
    value: &TokenValue,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.expose())
}

impl fmt::Debug for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenValue(<redacted>)")
    }
}

/// Encodes a CRC-32 as the 6 base62 digits of the format.
fn encode_checksum(crc: u32) -> [u8; CHECKSUM_LEN] {
    let mut out = [b'0'; CHECKSUM_LEN];
    let mut rest = crc;
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(rest % 62) as usize];
        rest /= 62;
    }
    out
}

/// Random bytes asked of the operating system at once for a body. Each byte is kept with
/// probability 62/64, so a body of [`BODY_LEN`] characters needs about 33 of them; 64 run
/// short with a probability below 10^-30, and then more are asked for.
const DRAWN_BYTES: usize = 64;

/// Appends [`BODY_LEN`] base62 characters drawn from the operating system's CSPRNG, asking it
/// once (per [`DRAWN_BYTES`]) instead of once per character. A byte's top six bits are uniform
/// over 0..64; 62 and 63 are dropped, so each character is uniform over the 62.
fn push_random_body(value: &mut String) {
    let end = value.len() + BODY_LEN;
    while value.len() < end {
        let mut bytes = [0u8; DRAWN_BYTES];
        OsRng.fill_bytes(&mut bytes);
        let wanted = end - value.len();
        value.extend(
            bytes
                .iter()
                .filter_map(|byte| BASE62.get(usize::from(byte >> 2)))
                .take(wanted)
                .map(|&c| char::from(c)),
        );
    }
}

/// Creates a new random value of `kind`, with the prefix `prefixes` gives it.
///
/// The body comes from the operating system's CSPRNG, in one system call per value (one per
/// character cost about a tenth of the SQLite writer's time per create).
///
/// # Panics
///
/// Panics if the operating system cannot supply random bytes; there is no
/// safe way to issue a token then.
#[must_use]
pub fn generate(prefixes: &Prefixes, kind: TokenKind) -> TokenValue {
    let prefix = prefixes.prefix(kind);
    let mut value = String::with_capacity(prefix.len() + BODY_LEN + CHECKSUM_LEN);
    value.push_str(prefix);
    push_random_body(&mut value);
    let checksum = encode_checksum(crc32fast::hash(value.as_bytes()));
    value.extend(checksum.iter().copied().map(char::from));
    TokenValue(value)
}

/// A short, recognisable excerpt of a value: the prefix followed by the first
/// [`HINT_BODY_CHARS`] body characters (e.g. `tolp_Ab3x`), without ellipsis.
///
/// Safe to store in clear and to show in listings and logs: it reveals about
/// 24 of the body's 190 random bits, leaving the rest out of guessing range.
/// If `value` does not start with `prefix`, only the prefix is returned, so a
/// malformed input never leaks more than a well-formed one.
#[must_use]
pub fn hint(value: &str, prefix: &str) -> String {
    let body = value.strip_prefix(prefix).unwrap_or("");
    let mut out = String::with_capacity(prefix.len() + HINT_BODY_CHARS);
    out.push_str(prefix);
    out.extend(body.chars().take(HINT_BODY_CHARS));
    out
}

/// Why a string is not a well-formed token value, as found by [`parse`].
///
/// The messages describe the problem only; they never contain the value, so
/// they are safe to return to a client and to log.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    /// The value does not start with any configured prefix.
    #[error("token does not start with a known prefix")]
    UnknownPrefix,
    /// The value is longer or shorter than prefix + body + checksum.
    #[error("token has the wrong length")]
    WrongLength,
    /// The body or checksum contains a character outside `0-9A-Za-z`.
    #[error("token contains a character outside 0-9, A-Z and a-z")]
    InvalidCharacter,
    /// The checksum does not match the prefix and body (typo or made-up value).
    #[error("token checksum does not match; it was probably mistyped or truncated")]
    ChecksumMismatch,
}

/// Checks, without any lookup, that `value` is a well-formed token and returns
/// its kind.
///
/// Checks in order: a known prefix, the exact length, base62 characters in
/// body and checksum, then the checksum itself. Never copies the value: the
/// CRC is computed over the borrowed bytes and compared with a stack buffer.
///
/// # Errors
///
/// The first [`FormatError`] found, in the order above.
pub fn parse(prefixes: &Prefixes, value: &str) -> Result<TokenKind, FormatError> {
    let kind = prefixes.kind_of(value).ok_or(FormatError::UnknownPrefix)?;
    let prefix_len = prefixes.prefix(kind).len();
    let bytes = value.as_bytes();
    if bytes.len() != prefix_len + BODY_LEN + CHECKSUM_LEN {
        return Err(FormatError::WrongLength);
    }
    let (signed, checksum) = bytes.split_at(prefix_len + BODY_LEN);
    let body = &signed[prefix_len..];
    if !body.iter().chain(checksum).all(u8::is_ascii_alphanumeric) {
        return Err(FormatError::InvalidCharacter);
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(signed);
    if encode_checksum(hasher.finalize()).as_slice() != checksum {
        return Err(FormatError::ChecksumMismatch);
    }
    Ok(kind)
}

/// An HMAC-SHA256 output: what is stored in place of a token value.
pub type Digest = [u8; 32];

/// Digests of a presented value under every configured pepper, current first (the order of
/// [`Peppers::ids`]). Only digests travel with a request; pepper ids are attached by
/// [`Peppers::labelled`] on the way to the database.
pub type Candidates = smallvec::SmallVec<[Digest; 2]>;

type HmacSha256 = Hmac<Sha256>;

/// One server-side HMAC key and the id recorded next to the digests it made.
///
/// The key is kept as the precomputed keyed HMAC state so each digest only
/// clones it instead of re-deriving the key. `Debug` shows the id only.
#[derive(Clone)]
pub struct Pepper {
    id: String,
    key: HmacSha256,
}

impl Pepper {
    fn digest(&self, value: &str) -> Digest {
        let mut mac = self.key.clone();
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The configured peppers, current first, so that new digests use the current
/// key while values digested under older keys can still be found during a
/// rotation.
///
/// Non-empty by construction: the current pepper is held apart from the
/// older ones, so no lookup of it can fail. `Debug` shows ids only.
#[derive(Clone)]
pub struct Peppers {
    /// The pepper new digests are made under.
    current: Pepper,
    /// Older peppers still accepted for lookup, newest first. Ids across
    /// `current` and `previous` are unique (checked by [`Peppers::new`]).
    previous: Vec<Pepper>,
}

/// Why a pepper configuration was rejected.
///
/// Messages name the pepper id or entry position, never the secret, so they
/// are safe to print at startup.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PepperError {
    /// No pepper was configured; digests cannot be made without a key.
    #[error("no pepper configured: at least one id:secret entry is required")]
    NoneGiven,
    /// Two peppers share an id, which would make stored digests ambiguous.
    #[error("pepper id {id:?} is configured more than once")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// An id is empty, too long, or uses characters outside `A-Za-z0-9_-`.
    #[error("pepper id {id:?} is invalid: use 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'")]
    InvalidId {
        /// The rejected id.
        id: String,
    },
    /// A secret is shorter than [`MIN_PEPPER_LEN`] bytes.
    #[error("secret of pepper {id:?} is shorter than 32 bytes")]
    SecretTooShort {
        /// Id of the pepper whose secret is too short.
        id: String,
    },
    /// A configuration entry has no `:` between id and secret.
    #[error("pepper entry {index} is not of the form id:secret")]
    MissingSeparator {
        /// 1-based position of the entry in the comma-separated list.
        index: usize,
    },
    /// The HMAC implementation refused the key. HMAC accepts keys of any
    /// length, so this is not expected; it exists so that no panic path does.
    #[error("secret of pepper {id:?} was rejected as an HMAC key")]
    KeyRejected {
        /// Id of the pepper whose key was rejected.
        id: String,
    },
}

fn check_id(id: &str) -> Result<(), PepperError> {
    let valid = (1..=MAX_PEPPER_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(PepperError::InvalidId { id: id.to_owned() })
    }
}

fn check_secret(id: &str, secret: &[u8]) -> Result<(), PepperError> {
    if secret.len() < MIN_PEPPER_LEN {
        return Err(PepperError::SecretTooShort { id: id.to_owned() });
    }
    Ok(())
}

impl Peppers {
    /// Builds the key set from `(id, secret)` pairs, current pepper first.
    ///
    /// Each key is derived once here and only cloned per digest.
    ///
    /// # Errors
    ///
    /// [`PepperError::NoneGiven`] for an empty list,
    /// [`PepperError::InvalidId`] and [`PepperError::DuplicateId`] for bad ids,
    /// and [`PepperError::SecretTooShort`] for a secret shorter than
    /// [`MIN_PEPPER_LEN`] bytes.
    pub fn new(entries: Vec<(String, Vec<u8>)>) -> Result<Peppers, PepperError> {
        let mut list: Vec<Pepper> = Vec::with_capacity(entries.len());
        for (id, secret) in entries {
            check_id(&id)?;
            if list.iter().any(|p| p.id == id) {
                return Err(PepperError::DuplicateId { id });
            }
            check_secret(&id, &secret)?;
            let Ok(key) = HmacSha256::new_from_slice(&secret) else {
                return Err(PepperError::KeyRejected { id });
            };
            list.push(Pepper { id, key });
        }
        let mut list = list.into_iter();
        let Some(current) = list.next() else {
            return Err(PepperError::NoneGiven);
        };
        Ok(Peppers {
            current,
            previous: list.collect(),
        })
    }

    fn all(&self) -> impl Iterator<Item = &Pepper> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// Id of the pepper new digests are made under; store it with the digest.
    #[must_use]
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Digest of `value` under the current pepper, for storing a new token.
    #[must_use]
    pub fn digest(&self, value: &str) -> Digest {
        self.current.digest(value)
    }

    /// Ids of every pepper, current first (the order of [`Peppers::candidates`]).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.all().map(|pepper| pepper.id.as_str())
    }

    /// `(pepper id, digest)` of `value` under every pepper, current first, for
    /// looking a presented value up while older peppers are still in use.
    ///
    /// Digests are computed lazily, so a caller that stops at the first hit
    /// pays for only the peppers it tried.
    pub fn candidates(&self, value: &str) -> impl Iterator<Item = (&str, Digest)> {
        self.all()
            .map(move |pepper| (pepper.id.as_str(), pepper.digest(value)))
    }

    /// Digests of `value` under every pepper, current first.
    #[must_use]
    pub fn digests(&self, value: &str) -> Candidates {
        self.candidates(value).map(|(_, digest)| digest).collect()
    }

    /// `(pepper id, digest)` pairs of [`Peppers::digests`], as the database queries take them.
    #[must_use]
    pub fn labelled(&self, digests: &Candidates) -> Vec<(String, Digest)> {
        self.ids()
            .zip(digests)
            .map(|(id, digest)| (id.to_owned(), *digest))
            .collect()
    }

    /// Digest of `value` under the pepper named `pepper_id`, e.g. to recheck a
    /// stored digest; `None` if no such pepper is configured (any longer).
    #[must_use]
    pub fn digest_with(&self, pepper_id: &str, value: &str) -> Option<Digest> {
        self.all()
            .find(|pepper| pepper.id == pepper_id)
            .map(|pepper| pepper.digest(value))
    }
}

impl fmt::Debug for Peppers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peppers")
            .field("current", &self.current)
            .field("previous", &self.previous)
            .finish()
    }
}

/// Compares two digests in constant time, so that a lookup does not reveal
/// through timing how much of a guessed digest matched.
///
/// Slices of different lengths compare unequal.
#[must_use]
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Decoder for pepper secrets: standard alphabet, padding optional.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses the pepper configuration `id:secret[,id:secret…]` into entries for
/// [`Peppers::new`], current pepper first.
///
/// Entries are separated by `,` and split at their first `:`; whitespace
/// around an entry and around the id is ignored, and empty entries are
/// skipped (so a trailing comma is harmless; a blank spec yields no entries,
/// which [`Peppers::new`] rejects). A secret is taken as standard base64, with
/// or without padding, when it decodes to at least [`MIN_PEPPER_LEN`] bytes,
/// and otherwise as its raw UTF-8 bytes. A raw secret therefore cannot
/// contain `,`; it may contain `:`.
///
/// # Errors
///
/// [`PepperError::MissingSeparator`] for an entry without `:` (naming its
/// 1-based position), [`PepperError::InvalidId`] for a bad id and
/// [`PepperError::SecretTooShort`] for a secret shorter than
/// [`MIN_PEPPER_LEN`] bytes; no message contains a secret. Duplicate ids are
/// left to [`Peppers::new`].
pub fn parse_pepper_list(spec: &str) -> Result<Vec<(String, Vec<u8>)>, PepperError> {
    let mut entries = Vec::new();
    for (position, entry) in spec.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((id, secret)) = entry.split_once(':') else {
            return Err(PepperError::MissingSeparator {
                index: position + 1,
            });
        };
        let id = id.trim();
        check_id(id)?;
        let secret = match SECRET_BASE64.decode(secret) {
            Ok(decoded) if decoded.len() >= MIN_PEPPER_LEN => decoded,
            _ => secret.as_bytes().to_vec(),
        };
        check_secret(id, &secret)?;
        entries.push((id.to_owned(), secret));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET_A: &[u8] = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const SECRET_B: &[u8] = b"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn peppers() -> Peppers {
        Peppers::new(vec![
            ("current".to_owned(), SECRET_A.to_vec()),
            ("old".to_owned(), SECRET_B.to_vec()),
        ])
        .unwrap()
    }

    fn is_base62(b: u8) -> bool {
        BASE62.contains(&b)
    }

    #[test]
    fn generated_values_have_contract_length_and_parse_to_their_kind() {
        let prefixes = Prefixes::default();
        for kind in TokenKind::ALL {
            let value = generate(&prefixes, kind);
            assert_eq!(value.expose().len(), 43);
            assert!(value.expose().starts_with(prefixes.prefix(kind)));
            assert_eq!(parse(&prefixes, value.expose()), Ok(kind));
        }
    }

    #[test]
    fn generated_body_is_base62_and_values_differ() {
        let prefixes = Prefixes::default();
        let a = generate(&prefixes, TokenKind::Personal);
        let b = generate(&prefixes, TokenKind::Personal);
        assert_ne!(a.expose(), b.expose());
        for value in [&a, &b] {
            let rest = &value.expose().as_bytes()[5..];
            assert_eq!(rest.len(), BODY_LEN + CHECKSUM_LEN);
            assert!(rest.iter().copied().all(is_base62));
        }
    }

    #[test]
    fn bodies_use_every_base62_character_evenly() {
        let prefixes = Prefixes::default();
        let mut counts = [0usize; 62];
        let values = 2_000;
        for _ in 0..values {
            let value = generate(&prefixes, TokenKind::Personal);
            for byte in &value.expose().as_bytes()[5..5 + BODY_LEN] {
                let index = BASE62.iter().position(|c| c == byte);
                assert!(index.is_some(), "{byte} is not base62");
                if let Some(index) = index {
                    counts[index] += 1;
                }
            }
        }
        // 64,000 characters: about 1,032 each, with a standard deviation of about 32.
        let expected = values * BODY_LEN / 62;
        for (index, count) in counts.iter().enumerate() {
            assert!(
                count.abs_diff(expected) < expected / 4,
                "{} drawn {count} times, expected about {expected}",
                char::from(BASE62[index])
            );
        }
    }

    #[test]
    fn generate_honours_custom_prefixes() {
        let prefixes = Prefixes {
            personal: "acme_p_".to_owned(),
            ..Prefixes::default()
        };
        let value = generate(&prefixes, TokenKind::Personal);
        assert_eq!(value.expose().len(), 7 + BODY_LEN + CHECKSUM_LEN);
        assert_eq!(parse(&prefixes, value.expose()), Ok(TokenKind::Personal));
        assert_eq!(
            parse(&Prefixes::default(), value.expose()),
            Err(FormatError::UnknownPrefix)
        );
    }

    #[test]
    fn known_value_matches_the_format_contract() {
        // Computed independently (zlib CRC-32, hand-rolled base62).
        let prefixes = Prefixes::default();
        assert_eq!(
            parse(&prefixes, "tolp_0123456789abcdefghijABCDEFGHIJ013rl741"),
            Ok(TokenKind::Personal)
        );
        assert_eq!(
            parse(&prefixes, "tols_0123456789abcdefghijABCDEFGHIJ013UUbuZ"),
            Ok(TokenKind::Service)
        );
        // Same body and checksum under another prefix: the prefix is covered.
        assert_eq!(
            parse(&prefixes, "tola_0123456789abcdefghijABCDEFGHIJ013rl741"),
            Err(FormatError::ChecksumMismatch)
        );
    }

    #[test]
    fn checksum_encoding_of_known_crcs() {
        assert_eq!(&encode_checksum(0), b"000000");
        assert_eq!(&encode_checksum(61), b"00000z");
        assert_eq!(&encode_checksum(62), b"000010");
        assert_eq!(&encode_checksum(u32::MAX), b"4gfFC3");
        assert_eq!(&encode_checksum(3_542_772_877), b"3rl741");
    }

    #[test]
    fn hint_is_prefix_plus_four_body_chars() {
        let prefixes = Prefixes::default();
        let value = generate(&prefixes, TokenKind::Agent);
        let h = hint(value.expose(), "tolg_");
        assert_eq!(h.len(), 5 + HINT_BODY_CHARS);
        assert_eq!(h, value.expose()[..9]);
        assert_eq!(
            hint("tolp_Ab3xYZ0123456789abcdefghijklmnop000000", "tolp_"),
            "tolp_Ab3x"
        );
        // Never more than the prefix for a value that does not carry it.
        assert_eq!(hint("tolp_Ab3xYZ", "tola_"), "tola_");
        assert_eq!(hint("tolp_Ab", "tolp_"), "tolp_Ab");
    }

    #[test]
    fn every_single_character_substitution_is_rejected() {
        let prefixes = Prefixes::default();
        let mut replacements: Vec<u8> = BASE62.to_vec();
        replacements.extend_from_slice(b"-_+/= .");
        for kind in TokenKind::ALL {
            let value = generate(&prefixes, kind).into_exposed();
            let mut checked = 0usize;
            for position in 0..value.len() {
                for &replacement in &replacements {
                    let mut bytes = value.clone().into_bytes();
                    if bytes[position] == replacement {
                        continue;
                    }
                    bytes[position] = replacement;
                    let mutated = String::from_utf8(bytes).unwrap();
                    assert!(
                        parse(&prefixes, &mutated).is_err(),
                        "substitution at {position} with {:?} was accepted",
                        char::from(replacement)
                    );
                    checked += 1;
                }
            }
            assert!(checked > 43 * 62);
        }
    }

    #[test]
    fn substitutions_report_the_matching_error() {
        let prefixes = Prefixes::default();
        let value = generate(&prefixes, TokenKind::Api).into_exposed();
        let mut body = value.clone().into_bytes();
        body[10] = b'-';
        assert_eq!(
            parse(&prefixes, std::str::from_utf8(&body).unwrap()),
            Err(FormatError::InvalidCharacter)
        );
        let mut checksum = value.clone().into_bytes();
        checksum[42] = if checksum[42] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            parse(&prefixes, std::str::from_utf8(&checksum).unwrap()),
            Err(FormatError::ChecksumMismatch)
        );
        // A multi-byte character changes the length before anything else.
        let widened = format!("{}é{}", &value[..10], &value[11..]);
        assert_eq!(parse(&prefixes, &widened), Err(FormatError::WrongLength));
    }

    #[test]
    fn truncated_or_extended_values_fail_with_wrong_length() {
        let prefixes = Prefixes::default();
        let value = generate(&prefixes, TokenKind::Service).into_exposed();
        for cut in 5..value.len() {
            assert_eq!(
                parse(&prefixes, &value[..cut]),
                Err(FormatError::WrongLength),
                "cut at {cut}"
            );
        }
        for extended in [format!("{value}0"), format!("{value}{value}")] {
            assert_eq!(parse(&prefixes, &extended), Err(FormatError::WrongLength));
        }
    }

    #[test]
    fn unknown_prefix_fails() {
        let prefixes = Prefixes::default();
        let value = generate(&prefixes, TokenKind::Personal).into_exposed();
        let foreign = format!("ghp_{}", &value[5..]);
        assert_eq!(parse(&prefixes, &foreign), Err(FormatError::UnknownPrefix));
        assert_eq!(parse(&prefixes, ""), Err(FormatError::UnknownPrefix));
        assert_eq!(parse(&prefixes, "tol"), Err(FormatError::UnknownPrefix));
        assert_eq!(
            parse(&prefixes, &format!(" {value}")),
            Err(FormatError::UnknownPrefix)
        );
    }

    #[test]
    fn format_error_messages_do_not_contain_the_value() {
        let prefixes = Prefixes::default();
        let value = generate(&prefixes, TokenKind::Personal).into_exposed();
        let body = &value[5..5 + BODY_LEN];
        for error in [
            FormatError::UnknownPrefix,
            FormatError::WrongLength,
            FormatError::InvalidCharacter,
            FormatError::ChecksumMismatch,
        ] {
            let message = error.to_string();
            assert!(!message.is_empty());
            assert!(!message.contains(body));
        }
    }

    #[test]
    fn token_value_debug_is_redacted() {
        let value = generate(&Prefixes::default(), TokenKind::Personal);
        let debug = format!("{value:?}");
        assert_eq!(debug, "TokenValue(<redacted>)");
        assert!(!debug.contains(value.expose()));
        let exposed = value.expose().to_owned();
        assert_eq!(value.into_exposed(), exposed);
    }

    #[test]
    fn peppers_debug_shows_ids_but_not_secrets() {
        let peppers = peppers();
        let debug = format!("{peppers:?}");
        assert!(
            debug.contains("current") && debug.contains("old"),
            "{debug}"
        );
        for secret in [SECRET_A, SECRET_B] {
            let secret = std::str::from_utf8(secret).unwrap();
            assert!(!debug.contains(&secret[..8]), "{debug}");
        }
        let pretty = format!("{peppers:#?}");
        assert!(!pretty.contains("aaaaaaaa"), "{pretty}");
    }

    #[test]
    fn digest_is_stable_and_differs_per_pepper() {
        let peppers = peppers();
        let value = "tolp_0123456789abcdefghijABCDEFGHIJ013rl741";
        let first = peppers.digest(value);
        assert_eq!(peppers.digest(value), first);
        assert_eq!(peppers.current_id(), "current");
        assert_eq!(peppers.digest_with("current", value), Some(first));
        let old = peppers.digest_with("old", value).unwrap();
        assert_ne!(old, first);
        assert_ne!(peppers.digest("tolp_other"), first);
        // The same secret under another id gives the same digest: the id is a
        // label, not key material.
        let alone = Peppers::new(vec![("x".to_owned(), SECRET_A.to_vec())]).unwrap();
        assert_eq!(alone.digest(value), first);
    }

    #[test]
    fn digest_matches_rfc4231_long_key_vector() {
        // RFC 4231 test case 6: a key longer than the block size is hashed first.
        let peppers = Peppers::new(vec![("rfc".to_owned(), vec![0xaa; 131])]).unwrap();
        let digest = peppers.digest("Test Using Larger Than Block-Size Key - Hash Key First");
        // 60e43159 1ee0b67f 0d8a26aa cbf5b77f 8e0bc621 3728c514 0546040f 0ee37f54
        let expected: Digest = [
            0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f, 0x0d, 0x8a, 0x26, 0xaa, 0xcb, 0xf5,
            0xb7, 0x7f, 0x8e, 0x0b, 0xc6, 0x21, 0x37, 0x28, 0xc5, 0x14, 0x05, 0x46, 0x04, 0x0f,
            0x0e, 0xe3, 0x7f, 0x54,
        ];
        assert_eq!(digest, expected);
    }

    #[test]
    fn candidates_yield_every_pepper_current_first() {
        let peppers = peppers();
        let value = "some value";
        let candidates: Vec<(&str, Digest)> = peppers.candidates(value).collect();
        assert_eq!(candidates.len(), 2);
        assert_eq!(candidates[0], ("current", peppers.digest(value)));
        assert_eq!(
            candidates[1],
            ("old", peppers.digest_with("old", value).unwrap())
        );
    }

    #[test]
    fn digest_with_unknown_id_is_none() {
        assert_eq!(peppers().digest_with("gone", "value"), None);
        assert_eq!(peppers().digest_with("", "value"), None);
    }

    #[test]
    fn digests_equal_compares_content_and_length() {
        let peppers = peppers();
        let a = peppers.digest("a");
        let b = peppers.digest("b");
        assert!(digests_equal(&a, &a));
        assert!(!digests_equal(&a, &b));
        assert!(!digests_equal(&a, &a[..31]));
        assert!(digests_equal(&[], &[]));
    }

    #[test]
    fn peppers_new_rejects_empty_duplicates_bad_ids_and_short_secrets() {
        assert_eq!(
            Peppers::new(Vec::new()).unwrap_err(),
            PepperError::NoneGiven
        );
        assert_eq!(
            Peppers::new(vec![
                ("a".to_owned(), SECRET_A.to_vec()),
                ("a".to_owned(), SECRET_B.to_vec()),
            ])
            .unwrap_err(),
            PepperError::DuplicateId { id: "a".to_owned() }
        );
        for bad in ["", "has space", "dot.ted", &"x".repeat(33)] {
            assert_eq!(
                Peppers::new(vec![(bad.to_owned(), SECRET_A.to_vec())]).unwrap_err(),
                PepperError::InvalidId { id: bad.to_owned() }
            );
        }
        assert!(Peppers::new(vec![("A-z_9".to_owned(), SECRET_A.to_vec())]).is_ok());
        let short = Peppers::new(vec![("k1".to_owned(), b"0123456789abcdef".to_vec())]);
        let err = short.unwrap_err();
        assert_eq!(
            err,
            PepperError::SecretTooShort {
                id: "k1".to_owned()
            }
        );
        let message = err.to_string();
        assert!(message.contains("k1") && !message.contains("0123456789"));
    }

    #[test]
    fn parse_pepper_list_accepts_base64_and_raw_secrets() {
        let key: Vec<u8> = (0u8..32).collect();
        let padded = base64::engine::general_purpose::STANDARD.encode(&key);
        assert!(padded.ends_with('='));
        let unpadded = padded.trim_end_matches('=');
        let raw = "this-raw-secret-is-long-enough!!!";
        let spec = format!("new:{padded}, old:{unpadded} ,raw:{raw},");
        let entries = parse_pepper_list(&spec).unwrap();
        assert_eq!(
            entries,
            vec![
                ("new".to_owned(), key.clone()),
                ("old".to_owned(), key),
                ("raw".to_owned(), raw.as_bytes().to_vec()),
            ]
        );
        let peppers = Peppers::new(entries).unwrap();
        assert_eq!(peppers.current_id(), "new");
        // Valid base64 of only 24 bytes is taken as its 32 raw characters.
        let short_b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 24]);
        assert_eq!(short_b64.len(), 32);
        let entries = parse_pepper_list(&format!("k:{short_b64}")).unwrap();
        assert_eq!(entries[0].1, short_b64.as_bytes().to_vec());
        // Only the first ':' separates; later ones belong to a raw secret.
        let entries = parse_pepper_list("k:not:base64:but:long:enough:raw:secret").unwrap();
        assert_eq!(
            entries[0].1,
            b"not:base64:but:long:enough:raw:secret".to_vec()
        );
        assert_eq!(parse_pepper_list("  ").unwrap(), Vec::new());
    }

    #[test]
    fn parse_pepper_list_rejects_short_secrets_and_missing_separator() {
        let err = parse_pepper_list("k1:tooshortsecret").unwrap_err();
        assert_eq!(
            err,
            PepperError::SecretTooShort {
                id: "k1".to_owned()
            }
        );
        assert!(!err.to_string().contains("tooshortsecret"));

        let secret = "0123456789012345678901234567890123456789";
        let err = parse_pepper_list(&format!("a:{secret},{secret}")).unwrap_err();
        assert_eq!(err, PepperError::MissingSeparator { index: 2 });
        let message = err.to_string();
        assert!(
            message.contains('2') && !message.contains(secret),
            "{message}"
        );

        assert_eq!(
            parse_pepper_list(&format!("bad id:{secret}")).unwrap_err(),
            PepperError::InvalidId {
                id: "bad id".to_owned()
            }
        );
    }
}
