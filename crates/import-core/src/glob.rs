//! Glob patterns over object names, for expanding a prefix into objects.
//!
//! The import API takes explicit object names only (no wildcards), so a
//! client lists a prefix and keeps the names a [`Glob`] matches. Matching is
//! pure: no I/O, no allocation per match beyond a small table.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A glob pattern over `/`-separated object names.
///
/// | syntax | matches |
/// | --- | --- |
/// | `*` | any characters within one path segment (never `/`) |
/// | `**` | any number of whole segments, none included; must stand alone between slashes |
/// | `?` | exactly one character other than `/` |
/// | `[abc]`, `[a-z]` | one character of the set (never `/`) |
/// | `[!x]` | one character not in the set (never `/`) |
///
/// Every other character matches itself, case-sensitively (object names are
/// case-sensitive). Inside a set, a `]` right after `[` or `[!` and a `-` at
/// either end are literal; write `[[]`, `[*]` or `[?]` to match `[`, `*` or
/// `?` themselves. The whole name must match, not a part of it.
///
/// [`Glob::parse`] refuses patterns that cannot mean anything: an empty
/// pattern, an unclosed `[`, a reversed range (`[z-a]`), `**` next to other
/// characters within a segment, a leading `/`.
///
/// ```
/// use import_core::glob::Glob;
///
/// let glob = Glob::parse("**/front-[0-9]*.mp4")?;
/// assert!(glob.matches("front-1.mp4"));
/// assert!(glob.matches("2024-09-01/trip 42/front-7b.mp4"));
/// assert!(!glob.matches("2024-09-01/rear-7.mp4"));
///
/// assert!(Glob::parse("day/*.mp4")?.matches("day/cam.mp4"));
/// assert!(!Glob::parse("day/*.mp4")?.matches("day/sub/cam.mp4"));
///
/// let err = Glob::parse("cam[0-9.mp4").unwrap_err();
/// assert!(err.to_string().contains("unclosed `[`"));
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `**`: zero or more whole segments.
    AnyDepth,
    /// One segment matched token by token.
    Tokens(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`
    AnyChar,
    /// `*`
    Star,
    /// `[...]` or `[!...]`
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Glob {
    /// Parse a pattern; see [`Glob`] for the syntax.
    ///
    /// Errors are [`Error::InvalidField`] with field `glob`, whose text says
    /// what is wrong, where, and how to write it instead.
    pub fn parse(pattern: &str) -> Result<Glob> {
        let fail = |problem: String| Error::InvalidField {
            field: "glob",
            problem,
        };
        if pattern.is_empty() {
            return Err(fail(
                "is empty; write a pattern such as `*.mp4` or `**/front*.mp4`, or give no glob to take every `.mp4` object".to_owned(),
            ));
        }
        if pattern.starts_with('/') {
            return Err(fail(format!(
                "`{pattern}` starts with `/`, but a glob matches names relative to the prefix; remove the leading `/`"
            )));
        }
        let mut segments = Vec::new();
        // Character position (1-based) of the start of the current segment.
        let mut position = 1;
        for text in pattern.split('/') {
            let segment = if text == "**" {
                Segment::AnyDepth
            } else if text.contains("**") {
                return Err(fail(format!(
                    "`{pattern}` has `**` inside the segment `{text}`; `**` must stand alone between slashes (`**/cam.mp4`, `day/**/cam.mp4`), and `*` matches within one segment"
                )));
            } else {
                Segment::Tokens(parse_segment(text, pattern, position).map_err(fail)?)
            };
            // `**/**` means the same as `**`; keep one.
            if !(segment == Segment::AnyDepth && segments.last() == Some(&Segment::AnyDepth)) {
                segments.push(segment);
            }
            position += text.chars().count() + 1;
        }
        Ok(Glob {
            pattern: pattern.to_owned(),
            segments,
        })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the whole of `name` matches the pattern.
    ///
    /// ```
    /// let glob = import_core::glob::Glob::parse("cam-?/[!.]*.mp4")?;
    /// assert!(glob.matches("cam-1/clip.mp4"));
    /// assert!(!glob.matches("cam-1/.hidden.mp4"));
    /// assert!(!glob.matches("cam-12/clip.mp4"));
    /// # Ok::<(), import_core::Error>(())
    /// ```
    pub fn matches(&self, name: &str) -> bool {
        let names: Vec<&str> = name.split('/').collect();
        let n = names.len();
        // ok[j]: segments[i..] match names[j..], for the current i (from the end).
        let mut ok = vec![false; n + 1];
        ok[n] = true;
        for segment in self.segments.iter().rev() {
            let mut next = vec![false; n + 1];
            match segment {
                Segment::AnyDepth => {
                    // Zero segments (ok[j]) or one more and stay on `**`.
                    let mut any = false;
                    for j in (0..=n).rev() {
                        any |= ok[j];
                        next[j] = any;
                    }
                }
                Segment::Tokens(tokens) => {
                    for j in 0..n {
                        next[j] = ok[j + 1] && segment_matches(tokens, names[j]);
                    }
                }
            }
            ok = next;
        }
        ok[0]
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

impl FromStr for Glob {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Glob::parse(s)
    }
}

/// Parse one segment (no `/`); `start` is the 1-based character position of
/// its first character in `pattern`, for error messages.
fn parse_segment(
    text: &str,
    pattern: &str,
    start: usize,
) -> std::result::Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
                i += 1;
            }
            '?' => {
                tokens.push(Token::AnyChar);
                i += 1;
            }
            '[' => {
                let (token, end) = parse_class(&chars, i).ok_or_else(|| {
                    format!(
                        "has an unclosed `[` at character {} of `{pattern}`; close the set with `]` (as in `cam[0-9].mp4`), or write `[[]` to match a `[` itself",
                        start + i
                    )
                })?;
                if let Token::Class { ranges, .. } = &token
                    && let Some((lo, hi)) = ranges.iter().find(|(lo, hi)| lo > hi)
                {
                    return Err(format!(
                        "has the range `{lo}-{hi}` in `{pattern}`, whose start comes after its end; write it as `{hi}-{lo}`"
                    ));
                }
                tokens.push(token);
                i = end;
            }
            c => {
                tokens.push(Token::Literal(c));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

/// Parse the set starting at `chars[open] == '['`: the token and the index
/// after its `]`, or `None` when it is not closed within the segment.
fn parse_class(chars: &[char], open: usize) -> Option<(Token, usize)> {
    let mut i = open + 1;
    let negated = chars.get(i) == Some(&'!');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let first = i;
    loop {
        let c = *chars.get(i)?;
        if c == ']' && i > first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        // `a-z`, unless the `-` is the last character before `]`.
        match (chars.get(i + 1), chars.get(i + 2)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                ranges.push((c, hi));
                i += 3;
            }
            _ => {
                ranges.push((c, c));
                i += 1;
            }
        }
    }
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyChar => true,
            Token::Star => true,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
        }
    }
}

/// Match one segment of a name (no `/` in it) against its tokens: the usual
/// wildcard walk that backtracks to the last `*` only, so it takes at most
/// `tokens × characters` steps.
fn segment_matches(tokens: &[Token], name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    let (mut t, mut c) = (0, 0);
    // The last `*` seen and the character it is currently set to stop at.
    let mut star: Option<(usize, usize)> = None;
    while c < chars.len() {
        match tokens.get(t) {
            Some(Token::Star) => {
                star = Some((t, c));
                t += 1;
            }
            Some(token) if token.matches(chars[c]) => {
                t += 1;
                c += 1;
            }
            _ => match star {
                Some((star_t, star_c)) => {
                    // Let the `*` take one more character and try again.
                    t = star_t + 1;
                    c = star_c + 1;
                    star = Some((star_t, star_c + 1));
                }
                None => return false,
            },
        }
    }
    tokens[t..].iter().all(|token| *token == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str) -> Glob {
        Glob::parse(pattern).unwrap()
    }

    fn error(pattern: &str) -> String {
        Glob::parse(pattern).unwrap_err().to_string()
    }

    #[test]
    fn star_stays_within_a_segment() {
        let g = glob("*.mp4");
        assert!(g.matches("a.mp4"));
        assert!(g.matches(".mp4"));
        assert!(!g.matches("day/a.mp4"));
        assert!(!g.matches("a.MP4"), "matching is case-sensitive");
        assert!(!g.matches("a.mp4x"));
        let g = glob("day/cam-*.mp4");
        assert!(g.matches("day/cam-1.mp4"));
        assert!(g.matches("day/cam-.mp4"));
        assert!(!g.matches("day/x/cam-1.mp4"));
        assert!(!g.matches("night/cam-1.mp4"));
        assert!(glob("*a*b*c").matches("xxaxxbxxbcc"));
        assert!(glob("*a*b*c").matches("abc"));
        assert!(!glob("*a*b*c").matches("acb"));
        assert!(glob("a*?*b").matches("axb"));
        assert!(!glob("a*?*b").matches("ab"));
    }

    #[test]
    fn double_star_spans_segments() {
        let g = glob("**/*.mp4");
        assert!(g.matches("a.mp4"));
        assert!(g.matches("x/y/z/a.mp4"));
        assert!(!g.matches("x/y/a.jpg"));
        let g = glob("day/**/front.mp4");
        assert!(g.matches("day/front.mp4"));
        assert!(g.matches("day/a/b/front.mp4"));
        assert!(!g.matches("night/a/front.mp4"));
        assert!(!g.matches("day/a/rear.mp4"));
        let g = glob("day/**");
        assert!(g.matches("day/a.mp4"));
        assert!(g.matches("day/a/b.mp4"));
        assert!(!g.matches("days/a.mp4"));
        assert!(glob("**").matches("any/thing/at/all.mp4"));
        assert!(glob("**/**/x").matches("x"));
        assert!(glob("a/**/b/**/c").matches("a/1/b/2/3/c"));
        assert!(!glob("a/**/b/**/c").matches("a/1/c/2/3/b"));
    }

    #[test]
    fn question_mark_and_sets() {
        assert!(glob("cam-?.mp4").matches("cam-1.mp4"));
        assert!(!glob("cam-?.mp4").matches("cam-12.mp4"));
        assert!(!glob("a?b").matches("a/b"), "`?` never matches `/`");
        let g = glob("cam[0-9][abc].mp4");
        assert!(g.matches("cam7b.mp4"));
        assert!(!g.matches("cam7d.mp4"));
        assert!(!g.matches("camxb.mp4"));
        let g = glob("[!.]*");
        assert!(g.matches("clip.mp4"));
        assert!(!g.matches(".hidden.mp4"));
        assert!(glob("[]]x").matches("]x"));
        assert!(glob("[!]]x").matches("ax"));
        assert!(!glob("[!]]x").matches("]x"));
        assert!(glob("[a-]").matches("-"));
        assert!(glob("[-a]").matches("-"));
        assert!(glob("[[]1]").matches("[1]"));
        assert!(glob("[*?]").matches("*"));
        assert!(!glob("[*?]").matches("x"));
        assert!(glob("[é-ü]").matches("ö"), "ranges are by code point");
        assert!(!glob("a[!x]b").matches("a/b"), "sets never match `/`");
    }

    #[test]
    fn literal_characters() {
        let g = glob("trip 42/front #1 (copy).mp4");
        assert!(g.matches("trip 42/front #1 (copy).mp4"));
        assert!(!g.matches("trip 42/front #1 copy.mp4"));
        assert!(glob("ünï/*.mp4").matches("ünï/cödé.mp4"));
        assert!(!glob("a").matches(""));
        assert!(!glob("a/b").matches("a"));
        assert!(!glob("a").matches("a/b"));
    }

    #[test]
    fn clear_errors() {
        let err = error("");
        assert!(err.starts_with("`glob` is empty"), "{err}");
        let err = error("day/cam[0-9.mp4");
        assert!(err.contains("unclosed `[` at character 8"), "{err}");
        assert!(err.contains("close the set with `]`"), "{err}");
        assert!(error("[").contains("unclosed `[` at character 1"));
        assert!(error("[]").contains("unclosed"));
        assert!(error("[!]").contains("unclosed"));
        assert!(
            error("a[b/c]").contains("unclosed"),
            "a set stays in a segment"
        );
        let err = error("[z-a].mp4");
        assert!(
            err.contains("range `z-a`") && err.contains("`a-z`"),
            "{err}"
        );
        let err = error("day/x**.mp4");
        assert!(err.contains("`**` must stand alone"), "{err}");
        assert!(error("***").contains("stand alone"));
        let err = error("/day/*.mp4");
        assert!(err.contains("remove the leading `/`"), "{err}");
        assert!(matches!(
            Glob::parse("[").unwrap_err(),
            Error::InvalidField { field: "glob", .. }
        ));
    }

    #[test]
    fn display_and_from_str() {
        let g: Glob = "**/*.mp4".parse().unwrap();
        assert_eq!(g.to_string(), "**/*.mp4");
        assert_eq!(g.as_str(), "**/*.mp4");
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let name = format!("{}b", "a".repeat(2000));
        let g = glob(&format!("{}c", "*a".repeat(50)));
        assert!(!g.matches(&name));
        let deep = vec!["x"; 500].join("/");
        let g = glob(&["**"; 40].join("/x/"));
        assert!(g.matches(&deep));
        assert!(!g.matches(&vec!["x"; 38].join("/")));
    }
}
