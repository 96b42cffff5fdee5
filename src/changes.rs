//! What a committed write changes for the answers tokend caches. A use case returns its value
//! together with these ([`Committed`]); the state applies them after the commit, so no write
//! path can forget an invalidation. A leaf: it imports nothing of the crate.

/// A change that can alter introspection answers; what it names is dropped from every cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A token changed (revoked, regenerated, deleted, patched, authorized…).
    Token(String),
    /// A user changed (disabled, deleted): their tokens.
    User(String),
    /// An organization changed (flags, deletion): every token authorized for it.
    Organization(String),
    /// A membership changed: the user's tokens in that organization.
    Membership {
        /// The organization.
        organization_id: String,
        /// The user.
        user_id: String,
    },
    /// Anything may have changed (a lost invalidation channel).
    Everything,
}

impl Change {
    /// The wire form sent to other instances.
    #[must_use]
    pub fn encode(&self) -> String {
        match self {
            Self::Token(id) => format!("t:{id}"),
            Self::User(id) => format!("u:{id}"),
            Self::Organization(id) => format!("o:{id}"),
            Self::Membership {
                organization_id,
                user_id,
            } => format!("m:{organization_id}\t{user_id}"),
            Self::Everything => "*".to_owned(),
        }
    }

    /// Reads the wire form; anything unreadable is treated as `Everything`.
    #[must_use]
    pub fn decode(payload: &str) -> Self {
        match payload.split_once(':') {
            Some(("t", id)) => Self::Token(id.to_owned()),
            Some(("u", id)) => Self::User(id.to_owned()),
            Some(("o", id)) => Self::Organization(id.to_owned()),
            Some(("m", pair)) => match pair.split_once('\t') {
                Some((org, user)) => Self::Membership {
                    organization_id: org.to_owned(),
                    user_id: user.to_owned(),
                },
                None => Self::Everything,
            },
            _ => Self::Everything,
        }
    }
}

/// What a write committed: its value and the cache changes it causes.
#[derive(Debug)]
#[must_use = "the changes must reach the cache: return it from the write"]
pub struct Committed<T> {
    /// What the use case answers.
    pub value: T,
    /// What caches must drop once the transaction has committed.
    pub changes: Vec<Change>,
}

impl<T> Committed<T> {
    /// A value whose write changed what `changes` name.
    pub fn new(value: T, changes: Vec<Change>) -> Self {
        Self { value, changes }
    }

    /// A value whose write changed one thing.
    pub fn one(value: T, change: Change) -> Self {
        Self::new(value, vec![change])
    }

    /// A value whose write changes no cached answer (a new token, a project).
    pub fn alone(value: T) -> Self {
        Self::new(value, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_on_the_wire() {
        for change in [
            Change::Token("01a2".into()),
            Change::User("u:1".into()),
            Change::Organization("org:x".into()),
            Change::Membership {
                organization_id: "a:b".into(),
                user_id: "c".into(),
            },
            Change::Everything,
        ] {
            assert_eq!(Change::decode(&change.encode()), change);
        }
        assert_eq!(Change::decode("garbage"), Change::Everything);
    }
}
