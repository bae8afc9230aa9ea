//! How the funnel and selection failures read on a terminal; other commands print these as is.

use std::fmt;

use jiff::Timestamp;

use super::{Funnel, SelectError};
use crate::text::{Table, escape};

impl fmt::Display for Funnel {
    /// ```text
    /// 4 images in the listing
    ///   → kept 3  os_type = Linux
    ///   → kept 0  name ~ ^Fedora   ← emptied the list
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.total == 1 { "image" } else { "images" };
        write!(f, "{} {noun} in the listing", self.total)?;
        let width = self.total.to_string().len();
        let mut before = self.total;
        for step in &self.steps {
            write!(f, "\n  → kept {:>width$}  {}", step.kept, step.filter)?;
            if step.kept == 0 && before > 0 {
                f.write_str("   ← emptied the list")?;
            }
            before = step.kept;
        }
        Ok(())
    }
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectError::NoMatch { funnel } => write!(f, "no image matches\n{funnel}"),
            SelectError::Ambiguous { count, candidates } => {
                write!(f, "`only` matched {count} images; narrow the filters")?;
                let mut table = Table::new();
                for image in candidates {
                    table.row([
                        image.image_id.clone(),
                        escape(&image.image_name).into_owned(),
                        created_date(image.create_time),
                    ]);
                }
                write!(f, "\n{}", table.render("  ").trim_end_matches('\n'))?;
                if *count > candidates.len() {
                    write!(f, "\n  … and {} more", count - candidates.len())?;
                }
                Ok(())
            }
        }
    }
}

/// The UTC date of a CreateTime (`2024-05-01`), or the raw number if it is out of any calendar's
/// range; how every report shows when an image was made.
pub fn created_date(create_time: i64) -> String {
    match Timestamp::from_second(create_time) {
        Ok(at) => at.strftime("%Y-%m-%d").to_string(),
        Err(_) => create_time.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::FunnelStep;
    use crate::select::test_support::image;

    #[test]
    fn funnel_marks_the_step_that_emptied_the_list() {
        let funnel = Funnel {
            total: 12,
            steps: vec![
                FunnelStep {
                    filter: "os_type = Linux".into(),
                    kept: 10,
                },
                FunnelStep {
                    filter: "name ~ ^Fedora".into(),
                    kept: 0,
                },
                FunnelStep {
                    filter: "not_eol".into(),
                    kept: 0,
                },
            ],
        };
        assert_eq!(
            funnel.to_string(),
            "12 images in the listing\n  \
             → kept 10  os_type = Linux\n  \
             → kept  0  name ~ ^Fedora   ← emptied the list\n  \
             → kept  0  not_eol"
        );
        let empty = Funnel {
            total: 1,
            steps: vec![],
        };
        assert_eq!(empty.to_string(), "1 image in the listing");
    }

    #[test]
    fn no_match_shows_the_funnel() {
        let err = SelectError::NoMatch {
            funnel: Funnel {
                total: 0,
                steps: vec![FunnelStep {
                    filter: "state in [Available]".into(),
                    kept: 0,
                }],
            },
        };
        assert_eq!(
            err.to_string(),
            "no image matches\n0 images in the listing\n  → kept 0  state in [Available]"
        );
    }

    #[test]
    fn ambiguous_lists_candidates_with_dates_and_the_rest_as_a_count() {
        let err = SelectError::Ambiguous {
            count: 12,
            candidates: vec![
                image("uimage-aaaa", "Ubuntu 22.04 64位", 1_714_521_600),
                image("uimage-b", "Debian 12", 1_669_199_665),
            ],
        };
        assert_eq!(
            err.to_string(),
            "`only` matched 12 images; narrow the filters\n  \
             uimage-aaaa  Ubuntu 22.04 64位  2024-05-01\n  \
             uimage-b     Debian 12          2022-11-23\n  \
             … and 10 more"
        );
    }
}
