//! Property tests over what reads hostile input: the token parser, the bearer header reader,
//! the body readers and the redaction of log and error text never panic, and every refusal is
//! a client error (4xx), never a 5xx.

use actix_web::ResponseError;
use proptest::prelude::*;
use tokend::auth::bearer;
use tokend::error::ApiError;
use tokend::introspection::request;
use tokend::tokens::kind::Prefixes;
use tokend::tokens::secret;

fn client_error(error: &ApiError) -> bool {
    error.status_code().is_client_error()
}

/// Strings that look like tokens more often than random text does.
fn token_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(tolp|tola|tolg|tols)_[A-Za-z0-9]{0,45}",
        "[ -~]{0,60}",
    ]
}

proptest! {
    #[test]
    fn the_token_parser_never_panics(value in token_like()) {
        let _ = secret::parse(&Prefixes::default(), &value);
        let _ = tokend::redact::configured(&value);
    }

    #[test]
    fn the_bearer_reader_refuses_with_401_only(header in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Err(error) = bearer::credential(Some(&header), &Prefixes::default()) {
            prop_assert_eq!(error.status_code().as_u16(), 401);
        }
    }

    #[test]
    fn body_readers_refuse_with_4xx_only(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            "\\{\"token\": \"[ -~]{0,40}\"(, \"[a-z_]{1,16}\": (1|null|\"\\\\u0000\"|\\[\\]))?\\}"
                .prop_map(String::into_bytes),
            "token=[ -~]{0,40}(&[a-z_]{1,16}=[%0-9A-Za-z]{0,12})?".prop_map(String::into_bytes),
        ],
        content_type in prop_oneof![
            Just(None),
            Just(Some("application/json")),
            Just(Some("application/x-www-form-urlencoded")),
            Just(Some("text/plain")),
        ],
        organization in proptest::option::of("[ -~]{0,20}"),
    ) {
        if let Err(error) = request::parse(&body, tokend::serde_ext::Media::of(content_type), organization.as_deref()) {
            prop_assert!(client_error(&error), "{error}");
        }
        if let Err(error) = tokend::serde_ext::from_json::<serde_json::Value>(&body) {
            prop_assert!(client_error(&error), "{error}");
        }
    }
}
