//! Multi-camera view sets: a `front` view plus any other roles.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::fields::MAX_VIEW_ROLE_LEN;
use crate::uri::{CloudUri, Provider};

/// A camera role in a view set: `front`, `left`, `overhead_1`, ...
///
/// Roles are trimmed and lower-cased, then must match `[a-z][a-z0-9_]{0,63}`.
///
/// ```
/// use import_core::ViewRole;
/// assert_eq!(" Front ".parse::<ViewRole>()?.as_str(), "front");
/// assert!("1st".parse::<ViewRole>().is_err());
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewRole(String);

impl ViewRole {
    /// The required role.
    pub const FRONT: &'static str = "front";

    /// Normalise and validate a role.
    pub fn new(role: &str) -> Result<ViewRole> {
        let norm = role.trim().to_ascii_lowercase();
        let b = norm.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= MAX_VIEW_ROLE_LEN
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_');
        if ok {
            Ok(ViewRole(norm))
        } else {
            Err(Error::InvalidViewRole {
                role: role.to_owned(),
            })
        }
    }

    /// The role as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `front`.
    pub fn is_front(&self) -> bool {
        self.0 == Self::FRONT
    }

    /// Whether a video with this role (`None`: a single-view video) is a
    /// *listed* row: a job's pages, counts and failure summary hold
    /// single-view videos and the `front` of each set, never its other views.
    ///
    /// ```
    /// use import_core::ViewRole;
    /// assert!(ViewRole::is_listed(None));
    /// assert!(ViewRole::is_listed(Some(&"front".parse()?)));
    /// assert!(!ViewRole::is_listed(Some(&"left".parse()?)));
    /// # Ok::<(), import_core::Error>(())
    /// ```
    pub fn is_listed(role: Option<&ViewRole>) -> bool {
        role.is_none_or(ViewRole::is_front)
    }
}

impl fmt::Display for ViewRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ViewRole {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ViewRole::new(s)
    }
}

/// The cameras of one moment: a `front` URI and any other roles, all in one
/// bucket of GCS or S3.
///
/// A `ViewSet` cannot exist without `front`: [`ViewSet::new`] takes it, and
/// [`ViewSet::from_pairs`] refuses a list without it.
///
/// ```
/// use import_core::{CloudUri, ViewSet};
///
/// let set = ViewSet::new(CloudUri::parse("s3://fleet/t1/front.mp4")?)?
///     .with_view("Left", CloudUri::parse("s3://fleet/t1/left.mp4")?)?;
/// assert_eq!(set.roles().collect::<Vec<_>>(), ["front", "left"]);
///
/// let err = ViewSet::from_pairs([("rear", "s3://fleet/t1/rear.mp4")]).unwrap_err();
/// assert!(err.to_string().contains("needs a `front` URI"));
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ViewSet {
    /// `front` first, then the other roles in the order given.
    views: Vec<(ViewRole, CloudUri)>,
}

impl ViewSet {
    /// A set with its `front` view.
    pub fn new(front: CloudUri) -> Result<ViewSet> {
        check_multi_view_uri(&front)?;
        Ok(ViewSet {
            views: vec![(ViewRole(ViewRole::FRONT.to_owned()), front)],
        })
    }

    /// Add a view; the role must be new to the set and the URI in the same bucket.
    pub fn with_view(mut self, role: &str, uri: CloudUri) -> Result<ViewSet> {
        let role = ViewRole::new(role)?;
        if self.views.iter().any(|(r, _)| *r == role) {
            return Err(Error::DuplicateViewRole { role: role.0 });
        }
        check_multi_view_uri(&uri)?;
        let front = self.front();
        if front.provider() != uri.provider() {
            return Err(Error::MixedProviders {
                first: front.to_string(),
                first_provider: front.provider(),
                second: uri.to_string(),
                second_provider: uri.provider(),
            });
        }
        if front.bucket() != uri.bucket() {
            return Err(Error::MixedBuckets {
                first_bucket: front.bucket().to_owned(),
                second_bucket: uri.bucket().to_owned(),
                second: uri.to_string(),
            });
        }
        self.views.push((role, uri));
        Ok(self)
    }

    /// Build a set from `(role, uri)` pairs in any order; `front` must be among them.
    pub fn from_pairs<R, U>(pairs: impl IntoIterator<Item = (R, U)>) -> Result<ViewSet>
    where
        R: AsRef<str>,
        U: AsRef<str>,
    {
        Self::from_pairs_at(0, pairs)
    }

    /// As [`ViewSet::from_pairs`], naming the set's position in error messages.
    pub(crate) fn from_pairs_at<R, U>(
        index: usize,
        pairs: impl IntoIterator<Item = (R, U)>,
    ) -> Result<ViewSet>
    where
        R: AsRef<str>,
        U: AsRef<str>,
    {
        let mut parsed = Vec::new();
        for (role, uri) in pairs {
            let role = ViewRole::new(role.as_ref())?;
            if parsed.iter().any(|(r, _)| *r == role) {
                return Err(Error::DuplicateViewRole { role: role.0 });
            }
            parsed.push((role, CloudUri::parse(uri.as_ref())?));
        }
        let Some(front_at) = parsed.iter().position(|(r, _)| r.is_front()) else {
            let roles = parsed
                .iter()
                .map(|(r, _)| r.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::MissingFrontView {
                index,
                roles: if roles.is_empty() {
                    "no views".to_owned()
                } else {
                    format!("roles: {roles}")
                },
            });
        };
        let (_, front) = parsed.remove(front_at);
        let mut set = ViewSet::new(front)?;
        for (role, uri) in parsed {
            set = set.with_view(role.as_str(), uri)?;
        }
        Ok(set)
    }

    /// The `front` URI.
    pub fn front(&self) -> &CloudUri {
        &self.views[0].1
    }

    /// Every `(role, uri)`, `front` first.
    pub fn views(&self) -> impl Iterator<Item = (&ViewRole, &CloudUri)> {
        self.views.iter().map(|(r, u)| (r, u))
    }

    /// The roles, `front` first.
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.views.iter().map(|(r, _)| r.as_str())
    }

    /// Number of views (objects) in the set.
    pub fn len(&self) -> usize {
        self.views.len()
    }

    /// Always false: a set has at least `front`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

fn check_multi_view_uri(uri: &CloudUri) -> Result<()> {
    if uri.provider() == Provider::HfBucket {
        return Err(Error::HfMultiView {
            uri: uri.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> CloudUri {
        CloudUri::parse(s).unwrap()
    }

    #[test]
    fn roles_are_normalised_and_checked() {
        assert_eq!(
            ViewRole::new("  OVERHEAD_1 ").unwrap().as_str(),
            "overhead_1"
        );
        assert!(ViewRole::new(&format!("a{}", "b".repeat(63))).is_ok());
        for bad in [
            "",
            "1a",
            "_a",
            "a-b",
            "a b",
            &format!("a{}", "b".repeat(64)),
        ] {
            let err = ViewRole::new(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid view role `{bad}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn front_is_required() {
        let err = ViewSet::from_pairs([("left", "s3://bkt/l.mp4"), ("rear", "s3://bkt/r.mp4")])
            .unwrap_err();
        assert_eq!(
            err,
            Error::MissingFrontView {
                index: 0,
                roles: "roles: left, rear".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "view set 0 has no `front` view (roles: left, rear); every multi-view set needs a `front` URI"
        );
        let empty: [(&str, &str); 0] = [];
        assert!(
            ViewSet::from_pairs(empty)
                .unwrap_err()
                .to_string()
                .contains("(no views)")
        );
    }

    #[test]
    fn front_comes_first_whatever_the_order() {
        let set =
            ViewSet::from_pairs([("left", "s3://bkt/l.mp4"), ("FRONT", "s3://bkt/f.mp4")]).unwrap();
        assert_eq!(set.roles().collect::<Vec<_>>(), ["front", "left"]);
        assert_eq!(set.front().object(), "f.mp4");
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn duplicate_roles_are_refused() {
        let err = ViewSet::from_pairs([("front", "s3://bkt/a.mp4"), (" Front", "s3://bkt/b.mp4")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "view role `front` appears twice in one view set; give each camera its own role"
        );
        let err = ViewSet::new(uri("s3://bkt/a.mp4"))
            .unwrap()
            .with_view("left", uri("s3://bkt/b.mp4"))
            .unwrap()
            .with_view("LEFT", uri("s3://bkt/c.mp4"))
            .unwrap_err();
        assert!(matches!(err, Error::DuplicateViewRole { .. }));
    }

    #[test]
    fn hf_cannot_form_view_sets() {
        let err = ViewSet::new(uri("hf://buckets/a/b/f.mp4")).unwrap_err();
        assert!(
            err.to_string().contains("single-view imports only"),
            "{err}"
        );
    }

    #[test]
    fn one_bucket_one_provider_per_set() {
        let err = ViewSet::from_pairs([("front", "s3://bkt/f.mp4"), ("left", "s3://other/l.mp4")])
            .unwrap_err();
        assert!(err.to_string().contains("`bkt` and `other`"), "{err}");
        let err = ViewSet::from_pairs([("front", "s3://bkt/f.mp4"), ("left", "gs://bkt/l.mp4")])
            .unwrap_err();
        assert!(err.to_string().contains("is an S3 object"), "{err}");
        assert!(err.to_string().contains("is a GCS object"), "{err}");
    }
}
