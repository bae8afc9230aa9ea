//! `check`: does the lockfile satisfy the spec? Offline: the query of every entry (digests), hand
//! edits (checksums), pins on denied images, and, when asked, pins whose end of life is near.
//! Whether the images still exist is `verify`'s question, which needs the API.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::lockfile::{Lockfile, Pin, Staleness};

/// A pin whose image reaches its end of life (MaintainEol) soon, or already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EolNotice {
    pub entry: String,
    pub region: String,
    pub image_id: String,
    /// `YYYY-MM-DD`.
    pub eol: String,
    /// Days from today (UTC) to the EOL date; 0 or less means past.
    pub days_left: i64,
}

impl EolNotice {
    pub fn is_past(&self) -> bool {
        self.days_left <= 0
    }
}

#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub staleness: Staleness,
    /// With an EOL horizon: pins whose EOL is past, today, or within it.
    pub eol: Vec<EolNotice>,
    /// With an EOL horizon: pins that record no EOL date (counted, not failed).
    pub eol_unknown: usize,
}

impl CheckReport {
    /// Exit 0 when true, 3 otherwise.
    pub fn passes(&self) -> bool {
        self.staleness.is_fresh() && self.eol.is_empty()
    }
}

/// The verdict on `lock`, given how it differs from its spec ([`Lockfile::staleness`]); with
/// `eol_within` (seconds), pins near their EOL are flagged too.
pub fn check(
    staleness: Staleness,
    lock: &Lockfile,
    eol_within: Option<i64>,
    now: Timestamp,
) -> CheckReport {
    let mut report = CheckReport {
        staleness,
        ..CheckReport::default()
    };
    if let Some(horizon) = eol_within {
        for (entry, locked) in &lock.images {
            for (region, pin) in &locked.pins {
                match eol_notice(entry, region, pin, now) {
                    Some(notice) if notice.days_left * 86_400 <= horizon => report.eol.push(notice),
                    Some(_) => {}
                    None => report.eol_unknown += 1,
                }
            }
        }
    }
    report
}

/// The pin's EOL standing, when it records a readable date.
pub fn eol_notice(entry: &str, region: &str, pin: &Pin, now: Timestamp) -> Option<EolNotice> {
    let eol: Date = pin.maintain_eol.as_deref()?.parse().ok()?;
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let days_left = i64::from((eol - today).get_days());
    Some(EolNotice {
        entry: entry.to_string(),
        region: region.to_string(),
        image_id: pin.image_id.clone(),
        eol: eol.to_string(),
        days_left,
    })
}
