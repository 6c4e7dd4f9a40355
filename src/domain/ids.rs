//! The names of things, as types: a participant, a hearing, a published track. Each is a
//! string on the wire and in the database (`serde(transparent)`), but a participant id cannot
//! be passed where a hearing id is meant, nor silently where a plain string is (`as_str` says
//! so). Maps keyed by them are looked up with a plain string (`Borrow<str>`).

use std::borrow::Borrow;
use std::fmt;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id `id`.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

id!(
    /// A participant: one registered person in one hearing (the join token's subject).
    ParticipantId
);
id!(
    /// A hearing.
    HearingId
);
id!(
    /// A published track, unique per publisher (server-assigned: a client's own track ids
    /// repeat across reconnections).
    TrackKey
);

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn an_id_is_a_plain_string_on_the_wire_and_in_maps() {
        let p = ParticipantId::new("p1");
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"p1\"");
        let back: ParticipantId = serde_json::from_str("\"p1\"").unwrap();
        assert_eq!(back, p);
        let map = HashMap::from([(p.clone(), 1)]);
        assert_eq!(map.get("p1"), Some(&1));
        assert_eq!(p, "p1");
        assert_eq!(p.to_string(), "p1");
    }
}
