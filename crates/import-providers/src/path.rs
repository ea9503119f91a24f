//! Object names as `object_store` paths, taken literally.

use object_store::path::Path;

use crate::error::ProviderError;

/// The `object_store` path of an object name, taken literally.
///
/// `Path::from` percent-encodes characters such as `#`, `%`, `[` or space
/// in a way that changes the name the store is asked for; this keeps every
/// character. Names that `object_store` cannot represent are refused with a
/// clear error: a leading or trailing `/`, an empty segment (`a//b`), a `.`
/// or `..` segment, or a control character.
///
/// ```
/// let path = import_providers::object_path("trips/42/front #1.mp4")?;
/// assert_eq!(path.as_ref(), "trips/42/front #1.mp4");
/// assert!(import_providers::object_path("trips//front.mp4").is_err());
/// # Ok::<(), import_providers::ProviderError>(())
/// ```
pub fn object_path(object: &str) -> Result<Path, ProviderError> {
    let refuse = |why: &str| {
        ProviderError::invalid(
            format!("the object name `{object}` cannot be read: {why}"),
            "rename the object in the bucket",
        )
    };
    if object.is_empty() {
        return Err(refuse("it is empty"));
    }
    if object.starts_with('/') || object.ends_with('/') {
        return Err(refuse("it starts or ends with `/`"));
    }
    match Path::parse(object) {
        Ok(path) if path.as_ref() == object => Ok(path),
        Ok(_) | Err(_) => Err(refuse(
            "it has an empty segment (`//`), a `.` or `..` segment, or a control character",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_names() {
        for name in ["a.mp4", "x/y z/#1%20[2].mp4", "ünï/cödé.mp4"] {
            assert_eq!(object_path(name).unwrap().as_ref(), name);
        }
        for name in [
            "",
            "/a.mp4",
            "a/",
            "a//b.mp4",
            "a/../b.mp4",
            "./a.mp4",
            "a\u{1}.mp4",
        ] {
            let err = object_path(name).unwrap_err().to_string();
            assert!(err.contains("rename the object"), "{name:?}: {err}");
        }
    }
}
