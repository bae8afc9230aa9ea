//! A fast reader for the exact layout `render` writes, so `check`, `get` and `export` stay quick
//! on lockfiles with thousands of entries (a general YAML parser spends most of their run time).
//!
//! It is only a shortcut, never an authority: [`read`] returns a lockfile only when rendering it
//! gives back the very same bytes, and anything else (a hand-edited file, an older layout, an
//! error) goes to the general reader (`read.rs`). That reader is tested on its own, against
//! hand-written lockfiles in other spellings, and the two are tested to agree on every rendered
//! lockfile (`read.rs`, `the_fast_path_never_disagrees`).

use std::collections::BTreeMap;

use super::format::{HEADER, render};
use super::{LOCKFILE_VERSION, LockedImage, Lockfile, Pin};
use crate::spec::{Agreement, Selection};

/// The lockfile in `text`, if `text` is exactly what imagelock renders.
pub(super) fn read(text: &str) -> Option<Lockfile> {
    let lock = read_layout(text)?;
    (render(&lock) == text).then_some(lock)
}

fn read_layout(text: &str) -> Option<Lockfile> {
    let mut lines = text.strip_suffix('\n')?.split('\n').peekable();
    if lines.next()? != HEADER {
        return None;
    }
    if lines.next()? != format!("version: {LOCKFILE_VERSION}") {
        return None;
    }
    let mut images = BTreeMap::new();
    match lines.next()? {
        "images: {}" => return lines.next().is_none().then_some(Lockfile { images }),
        "images:" => {}
        _ => return None,
    }
    while let Some(line) = lines.next() {
        let name = scalar(line.strip_prefix("  ")?.strip_suffix(':')?)?;
        let digest = scalar(lines.next()?.strip_prefix("    digest: ")?)?;
        let select = match lines.next_if(|l| l.starts_with("    select: ")) {
            Some(line) => Some(selection(line.strip_prefix("    select: ")?)?),
            None => None,
        };
        let agree = match lines.next_if(|l| l.starts_with("    agree: ")) {
            Some("    agree: version") => Some(Agreement::Version),
            Some(_) => return None,
            None => None,
        };
        let checksum = Some(scalar(lines.next()?.strip_prefix("    checksum: ")?)?);
        let mut pins = BTreeMap::new();
        match lines.next()? {
            "    pins: {}" => {}
            "    pins:" => {
                while lines.peek().is_some_and(|l| l.starts_with("      ")) {
                    let region = lines.next()?.strip_prefix("      ")?.strip_suffix(':')?;
                    let mut field = |key: &str| -> Option<&str> {
                        lines.next()?.strip_prefix("        ")?.strip_prefix(key)
                    };
                    let mut pin = Pin {
                        image_id: scalar(field("image_id: ")?)?,
                        image_name: scalar(field("image_name: ")?)?,
                        os_name: scalar(field("os_name: ")?)?,
                        os_type: scalar(field("os_type: ")?)?,
                        image_type: scalar(field("image_type: ")?)?,
                        create_time: field("create_time: ")?.parse().ok()?,
                        features: flow_list(field("features: ")?)?,
                        maintain_eol: None,
                        project_id: None,
                    };
                    if let Some(line) = lines.next_if(|l| l.starts_with("        maintain_eol: ")) {
                        pin.maintain_eol =
                            Some(scalar(line.strip_prefix("        maintain_eol: ")?)?);
                    }
                    if let Some(line) = lines.next_if(|l| l.starts_with("        project_id: ")) {
                        pin.project_id = Some(scalar(line.strip_prefix("        project_id: ")?)?);
                    }
                    pins.insert(scalar(region)?, pin);
                }
            }
            _ => return None,
        }
        images.insert(
            name,
            LockedImage {
                digest,
                select,
                agree,
                checksum,
                pins,
            },
        );
    }
    Some(Lockfile { images })
}

fn selection(text: &str) -> Option<Selection> {
    [
        Selection::Newest,
        Selection::Oldest,
        Selection::HighestVersion,
        Selection::Only,
    ]
    .into_iter()
    .find(|s| s.as_str() == text)
}

/// One scalar as `render` writes it: plain, 'single quoted' or "double quoted".
fn scalar(text: &str) -> Option<String> {
    if let Some(inner) = text.strip_prefix('\'') {
        return Some(inner.strip_suffix('\'')?.replace("''", "'"));
    }
    if let Some(inner) = text.strip_prefix('"') {
        return unescape(inner.strip_suffix('"')?);
    }
    Some(text.to_string())
}

fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// `[a, 'b, c', "d"]`: items are plain (no commas), or quoted.
fn flow_list(text: &str) -> Option<Vec<String>> {
    let mut rest = text.strip_prefix('[')?.strip_suffix(']')?;
    let mut items = Vec::new();
    while !rest.is_empty() {
        let end = match rest.as_bytes()[0] {
            b'\'' => closing_single_quote(rest)?,
            b'"' => closing_double_quote(rest)?,
            _ => rest.find(", ").unwrap_or(rest.len()),
        };
        items.push(scalar(&rest[..end])?);
        rest = &rest[end..];
        if !rest.is_empty() {
            rest = rest.strip_prefix(", ")?;
        }
    }
    Some(items)
}

/// The end (exclusive) of a 'single quoted' item at the start of `text`, where `''` is a quote.
fn closing_single_quote(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// The end (exclusive) of a "double quoted" item at the start of `text`.
fn closing_double_quote(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(name: &str, features: &[&str]) -> Pin {
        Pin {
            maintain_eol: None,
            project_id: None,
            image_id: "uimage-rez4c3an".into(),
            image_name: name.into(),
            os_name: name.into(),
            os_type: "Linux".into(),
            image_type: "Base".into(),
            create_time: 1_669_199_665,
            features: features.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn lock(names: &[&str], features: &[&str]) -> Lockfile {
        let mut lock = Lockfile::default();
        for (n, name) in names.iter().enumerate() {
            let mut pins = BTreeMap::new();
            pins.insert("cn-bj2".to_string(), pin(name, features));
            pins.insert("hk".to_string(), pin(name, &[]));
            let mut entry = LockedImage {
                select: [None, Some(Selection::Only), Some(Selection::HighestVersion)][n % 3],
                agree: (n % 2 == 1).then_some(Agreement::Version),
                checksum: None,
                digest: format!("sha256:{}", "a".repeat(64)),
                pins,
            };
            if n % 2 == 0 {
                let pin = entry.pins.get_mut("hk").unwrap();
                pin.maintain_eol = Some("2030-01-31".into());
                pin.project_id = Some(format!("org-{n}"));
            }
            entry.seal();
            lock.images.insert(format!("entry-{n}"), entry);
        }
        lock
    }

    #[test]
    fn reads_what_render_writes() {
        let awkward = [
            "Ubuntu 22.04 64位",
            "yes",
            "22.04",
            "a: b",
            "#1",
            "it's",
            "line\nbreak",
            "tab\there",
            "quote \" and \\ back",
            "[x]",
            "- dash",
            "\u{7}bell",
        ];
        let features = [
            "CloudInit",
            "a, b",
            "it's, 'q'",
            "\"dq\"",
            "\u{d46}:?",
            "x:",
        ];
        let mut sorted = features.to_vec();
        sorted.sort();
        let lock = lock(&awkward, &sorted);
        let text = render(&lock);
        assert_eq!(read(&text), Some(lock));
        assert_eq!(
            read(&render(&Lockfile::default())),
            Some(Lockfile::default())
        );
    }

    #[test]
    fn anything_else_is_left_to_the_general_parser() {
        let text = render(&lock(&["web"], &["IPv6"]));
        // Same meaning, other bytes: a comment, other quoting, an extra blank line.
        for edited in [
            text.replace("version: 2", "version: 2 # pinned"),
            text.replace("image_type: Base", "image_type: 'Base'"),
            format!("{text}\n"),
            text.replace("  entry-0:", "  entry-0 :"),
            text.trim_end().to_string(),
            String::new(),
        ] {
            assert_eq!(read(&edited), None, "{edited}");
        }
    }
}
