//! Identifier newtypes and the small enums shared by requests and answers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fields::{MAX_ID_LEN, MAX_IDEMPOTENCY_KEY_LEN};

fn check_id(kind: &'static str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|c| c.is_ascii_graphic() && !matches!(c, b'/' | b'?' | b'#' | b'%'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId {
            kind,
            value: value.to_owned(),
        })
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $example:literal) => {
        $(#[$doc])*
        ///
        /// Ids are opaque: 1 to 128 visible ASCII characters without `/`, `?`,
        /// `#` or `%`, so they are safe in a path segment.
        ///
        /// ```
        #[doc = concat!("use import_core::", stringify!($name), ";")]
        #[doc = concat!("let id: ", stringify!($name), " = \"", $example, "\".parse()?;")]
        #[doc = concat!("assert_eq!(id.as_str(), \"", $example, "\");")]
        #[doc = concat!("assert!(\"a/b\".parse::<", stringify!($name), ">().is_err());")]
        /// # Ok::<(), import_core::Error>(())
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = $example))]
        pub struct $name(String);

        impl $name {
            /// Validate and wrap an id.
            pub fn new(value: impl Into<String>) -> Result<Self> {
                let value = value.into();
                check_id($kind, &value)?;
                Ok(Self(value))
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

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s.trim())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// The id of an import job (`ij_...`).
    ImportJobId,
    "import job id",
    "ij_01J9ZK3V6Q"
);
id_type!(
    /// The id of one imported video (`vi_...`).
    VideoId,
    "video id",
    "vi_01J9ZK3W2A"
);
id_type!(
    /// The id of a folder (`fo_...`).
    FolderId,
    "folder id",
    "fo_01J9ZK3X7B"
);
id_type!(
    /// The id of a saved cloud integration (`ci_...`).
    IntegrationId,
    "integration id",
    "ci_01J9ZK3Y8C"
);

/// Who a folder or an import belongs to. Parsed case-insensitively (`ORG` is `org`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    /// The caller's own (the default).
    #[default]
    User,
    /// Shared with the caller's organisation.
    Org,
}

impl Scope {
    /// The wire value (`user`, `org`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Org => "org",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Error;
    /// ```
    /// use import_core::Scope;
    /// assert_eq!(" ORG ".parse::<Scope>()?, Scope::Org);
    /// assert!("team".parse::<Scope>().is_err());
    /// # Ok::<(), import_core::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "user" => Ok(Scope::User),
            "org" => Ok(Scope::Org),
            _ => Err(Error::InvalidScope {
                value: s.to_owned(),
            }),
        }
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Check an `Idempotency-Key`: 1 to 128 printable ASCII characters.
///
/// ```
/// assert!(import_core::check_idempotency_key("0b9f1c2e-7d1a-4c39-9f0e-2f5d7a1b3c4d").is_ok());
/// assert!(import_core::check_idempotency_key("").is_err());
/// ```
pub fn check_idempotency_key(key: &str) -> Result<()> {
    if !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && key.bytes().all(|c| (0x20..0x7f).contains(&c))
    {
        Ok(())
    } else {
        Err(Error::InvalidIdempotencyKey {
            key: key.chars().take(140).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_path_characters_and_name_their_kind() {
        for bad in ["", "a/b", "a?b", "a#b", "a%2F", "a b", "é"] {
            let err = VideoId::new(bad).unwrap_err();
            assert!(err.to_string().contains("invalid video id"), "{err}");
        }
        let long = "x".repeat(129);
        assert!(ImportJobId::new(long).is_err());
        assert!(ImportJobId::new("x".repeat(128)).is_ok());
        assert!(
            FolderId::new("a/b")
                .unwrap_err()
                .to_string()
                .contains("copy the id from the API's answer")
        );
        assert!(
            IntegrationId::new("")
                .unwrap_err()
                .to_string()
                .starts_with("invalid integration id ``")
        );
    }

    #[test]
    fn ids_deserialize_with_validation() {
        let id: VideoId = serde_json::from_str("\"vi_1\"").unwrap();
        assert_eq!(id.as_str(), "vi_1");
        assert!(serde_json::from_str::<VideoId>("\"a/b\"").is_err());
    }

    #[test]
    fn scope_parse_and_message() {
        assert_eq!("user".parse::<Scope>().unwrap(), Scope::User);
        let err = "everyone".parse::<Scope>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid scope `everyone`: use `user` (your own) or `org` (shared with your organisation)"
        );
        assert_eq!(serde_json::to_string(&Scope::Org).unwrap(), "\"org\"");
        assert_eq!(
            serde_json::from_str::<Scope>("\"ORG\"").unwrap(),
            Scope::Org
        );
        let err = serde_json::from_str::<Scope>("\"sample\"").unwrap_err();
        assert!(err.to_string().contains("invalid scope `sample`"), "{err}");
    }

    #[test]
    fn idempotency_key_shape() {
        assert!(check_idempotency_key("k").is_ok());
        assert!(check_idempotency_key(&"k".repeat(128)).is_ok());
        assert!(check_idempotency_key(&"k".repeat(129)).is_err());
        let err = check_idempotency_key("a\nb").unwrap_err();
        assert!(
            err.to_string().contains("1 to 128 printable ASCII"),
            "{err}"
        );
    }
}
