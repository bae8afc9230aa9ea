//! Hand-edit detection: a checksum per lockfile entry over the values it holds.
//!
//! The checksum covers what the entry *means* — its digest, its recorded `select` and `agree`,
//! and every pin's region and parsed values — not how the file spells it. Requoting a name,
//! reordering keys or features, or adding a comment changes no value and so no checksum; changing
//! any value (an ImageId, a date, a region) does. imagelock writes the checksum; a person editing
//! the file by hand would have to recompute a SHA-256 to hide the edit, which is the point.
//!
//! The hashed form is ours (not published anywhere else): a domain tag, then each field as its
//! length and bytes, so no two different entries hash the same bytes.

use sha2::{Digest, Sha256};

use super::{LockedImage, Pin};

/// Changing the hashed form changes this tag, so old and new checksums can never be confused.
const DOMAIN: &str = "imagelock entry checksum 1";

/// `sha256:<hex>` over `entry`'s values (its own `checksum` field excluded).
pub fn checksum(entry: &LockedImage) -> String {
    let mut fields = Fields(Sha256::new());
    fields.str(DOMAIN);
    fields.str(&entry.digest);
    fields.opt(entry.select.map(|s| s.as_str()));
    fields.opt(entry.agree.map(|a| a.as_str()));
    fields.count(entry.pins.len());
    for (region, pin) in &entry.pins {
        fields.str(region);
        pin_fields(pin, &mut fields);
    }
    format!("sha256:{:x}", fields.0.finalize())
}

fn pin_fields(pin: &Pin, fields: &mut Fields) {
    fields.str(&pin.image_id);
    fields.str(&pin.image_name);
    fields.str(&pin.os_name);
    fields.str(&pin.os_type);
    fields.str(&pin.image_type);
    fields.0.update(pin.create_time.to_le_bytes());
    // Features are a set: the lockfile writes them sorted, so their order is formatting.
    let mut features: Vec<&str> = pin.features.iter().map(String::as_str).collect();
    features.sort_unstable();
    features.dedup();
    fields.count(features.len());
    for feature in features {
        fields.str(feature);
    }
    fields.opt(pin.maintain_eol.as_deref());
    fields.opt(pin.project_id.as_deref());
}

/// Length-prefixed fields, so `("ab", "c")` and `("a", "bc")` hash differently.
struct Fields(Sha256);

impl Fields {
    fn count(&mut self, n: usize) {
        self.0.update((n as u64).to_le_bytes());
    }

    fn str(&mut self, text: &str) {
        self.count(text.len());
        self.0.update(text.as_bytes());
    }

    fn opt(&mut self, value: Option<&str>) {
        match value {
            None => self.0.update([0u8]),
            Some(text) => {
                self.0.update([1u8]);
                self.str(text);
            }
        }
    }
}

impl LockedImage {
    /// Sets this entry's checksum to the one of its current values. Call it after changing an
    /// entry (new pins, a new digest); [`super::Lockfile::render`] seals entries that have none.
    pub fn seal(&mut self) {
        self.checksum = Some(checksum(self));
    }

    /// Whether the entry carries a checksum that its values do not match: someone changed a value
    /// by hand. An entry without a checksum (written before checksums existed) is trusted.
    pub fn is_hand_edited(&self) -> bool {
        self.checksum
            .as_deref()
            .is_some_and(|recorded| recorded != checksum(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Agreement, Selection};

    fn entry() -> LockedImage {
        let pin = Pin {
            image_id: "uimage-a".into(),
            image_name: "Ubuntu 22.04".into(),
            os_name: "Ubuntu 22.04".into(),
            os_type: "Linux".into(),
            image_type: "Base".into(),
            create_time: 1_700_000_000,
            features: vec!["CloudInit".into(), "IPv6".into()],
            maintain_eol: Some("2027-04-30".into()),
            project_id: None,
        };
        LockedImage {
            digest: format!("sha256:{}", "a".repeat(64)),
            select: Some(Selection::Newest),
            agree: None,
            checksum: None,
            pins: [("cn-bj2".to_string(), pin)].into_iter().collect(),
        }
    }

    #[test]
    fn unsealed_entries_are_trusted_and_sealed_ones_match() {
        let mut e = entry();
        assert!(!e.is_hand_edited());
        e.seal();
        assert!(e.checksum.as_deref().unwrap().starts_with("sha256:"));
        assert_eq!(e.checksum.as_deref().unwrap().len(), 7 + 64);
        assert!(!e.is_hand_edited());
    }

    #[test]
    fn every_value_is_covered() {
        let mut sealed = entry();
        sealed.seal();
        type Edit = Box<dyn Fn(&mut LockedImage)>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "digest",
                Box::new(|e| e.digest = format!("sha256:{}", "b".repeat(64))),
            ),
            ("select", Box::new(|e| e.select = Some(Selection::Oldest))),
            ("select none", Box::new(|e| e.select = None)),
            ("agree", Box::new(|e| e.agree = Some(Agreement::Version))),
            (
                "region",
                Box::new(|e| {
                    let pin = e.pins.remove("cn-bj2").unwrap();
                    e.pins.insert("cn-sh2".into(), pin);
                }),
            ),
            (
                "extra pin",
                Box::new(|e| {
                    let pin = e.pins["cn-bj2"].clone();
                    e.pins.insert("hk".into(), pin);
                }),
            ),
            (
                "image_id",
                Box::new(|e| e.pins.get_mut("cn-bj2").unwrap().image_id = "uimage-b".into()),
            ),
            (
                "image_name",
                Box::new(|e| e.pins.get_mut("cn-bj2").unwrap().image_name.push('!')),
            ),
            (
                "os_name",
                Box::new(|e| e.pins.get_mut("cn-bj2").unwrap().os_name.push('!')),
            ),
            (
                "os_type",
                Box::new(|e| e.pins.get_mut("cn-bj2").unwrap().os_type = "Windows".into()),
            ),
            (
                "image_type",
                Box::new(|e| e.pins.get_mut("cn-bj2").unwrap().image_type = "Custom".into()),
            ),
            (
                "create_time",
                Box::new(|e| e.pins.get_mut("cn-bj2").unwrap().create_time += 1),
            ),
            (
                "features",
                Box::new(|e| {
                    e.pins
                        .get_mut("cn-bj2")
                        .unwrap()
                        .features
                        .push("GPU".into())
                }),
            ),
            (
                "maintain_eol",
                Box::new(|e| {
                    e.pins.get_mut("cn-bj2").unwrap().maintain_eol = Some("2099-01-01".into())
                }),
            ),
            (
                "maintain_eol none",
                Box::new(|e| e.pins.get_mut("cn-bj2").unwrap().maintain_eol = None),
            ),
            (
                "project_id",
                Box::new(|e| e.pins.get_mut("cn-bj2").unwrap().project_id = Some("org-a".into())),
            ),
        ];
        for (what, edit) in edits {
            let mut edited = sealed.clone();
            edit(&mut edited);
            assert!(edited.is_hand_edited(), "{what}");
        }
    }

    #[test]
    fn feature_order_and_repeats_are_formatting() {
        let mut sealed = entry();
        sealed.seal();
        let mut reordered = sealed.clone();
        reordered.pins.get_mut("cn-bj2").unwrap().features =
            vec!["IPv6".into(), "CloudInit".into(), "IPv6".into()];
        assert!(!reordered.is_hand_edited());
    }

    #[test]
    fn fields_do_not_run_into_each_other() {
        let mut a = entry();
        let mut b = entry();
        a.pins.get_mut("cn-bj2").unwrap().image_name = "ab".into();
        a.pins.get_mut("cn-bj2").unwrap().os_name = "c".into();
        b.pins.get_mut("cn-bj2").unwrap().image_name = "a".into();
        b.pins.get_mut("cn-bj2").unwrap().os_name = "bc".into();
        assert_ne!(checksum(&a), checksum(&b));
    }
}
