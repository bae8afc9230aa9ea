//! Handing pins to other tools: reading one pin out of a lockfile the spec still agrees with, and
//! rendering all of them as JSON, shell `KEY=VALUE` lines, or a Terraform `.tfvars.json` map.
//! Nothing here touches the network.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde_json::{Value, json};

use crate::error::Error;
use crate::lockfile::{Lockfile, Pin};

/// The Terraform variable `tfvars-json` sets: `map(map(string))`, entry → region → ImageId.
pub const TFVARS_VARIABLE: &str = "imagelock_images";

/// Prefix of every `env` name.
pub const ENV_PREFIX: &str = "IMAGELOCK_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Env,
    TfvarsJson,
}

impl Format {
    pub const NAMES: [&'static str; 3] = ["json", "env", "tfvars-json"];
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        match text {
            "json" => Ok(Format::Json),
            "env" => Ok(Format::Env),
            "tfvars-json" => Ok(Format::TfvarsJson),
            other => Err(Error::Invalid(format!(
                "unknown export format `{other}`; expected one of {}",
                Format::NAMES.join(", ")
            ))),
        }
    }
}

/// `IMAGELOCK_WEB_CN_BJ2`: uppercase, every character that is not a letter or digit → `_`.
pub fn env_name(entry: &str, region: &str) -> String {
    let shout = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{ENV_PREFIX}{}_{}", shout(entry), shout(region))
}

/// All pins in the given format, ending with a newline.
pub fn render(lock: &Lockfile, format: Format) -> Result<String, Error> {
    match format {
        Format::Json => {
            let images: BTreeMap<&str, BTreeMap<&str, Value>> = lock
                .images
                .iter()
                .map(|(entry, locked)| {
                    let pins = locked
                        .pins
                        .iter()
                        .map(|(region, pin)| (region.as_str(), pin_value(pin)))
                        .collect();
                    (entry.as_str(), pins)
                })
                .collect();
            pretty(&json!({ "images": images }))
        }
        Format::TfvarsJson => {
            let images: BTreeMap<&str, BTreeMap<&str, &str>> = lock
                .images
                .iter()
                .map(|(entry, locked)| {
                    let ids = locked
                        .pins
                        .iter()
                        .map(|(region, pin)| (region.as_str(), pin.image_id.as_str()))
                        .collect();
                    (entry.as_str(), ids)
                })
                .collect();
            pretty(&json!({ TFVARS_VARIABLE: images }))
        }
        Format::Env => {
            // `web-a` + `b` and `web` + `a-b` would both be IMAGELOCK_WEB_A_B; refuse rather than
            // let one silently shadow the other in a shell.
            let mut lines: BTreeMap<String, (String, &str)> = BTreeMap::new();
            for (entry, locked) in &lock.images {
                for (region, pin) in &locked.pins {
                    // Ids are checked when the lockfile is read; checked again here because these
                    // lines are meant for `eval` and `$GITHUB_ENV`.
                    if !crate::ucloud::is_valid_image_id(&pin.image_id) {
                        return Err(Error::Invalid(format!(
                            "pin `{entry} {region}` is not an ImageId; refusing to export it"
                        )));
                    }
                    let name = env_name(entry, region);
                    let origin = format!("{entry} {region}");
                    if let Some((earlier, _)) = lines.get(&name) {
                        return Err(Error::Invalid(format!(
                            "pins `{earlier}` and `{origin}` would both be exported as {name}; \
                             rename one of the entries"
                        )));
                    }
                    lines.insert(name, (origin, pin.image_id.as_str()));
                }
            }
            Ok(lines
                .iter()
                .map(|(name, (_, id))| format!("{name}={id}\n"))
                .collect())
        }
    }
}

/// A pin as other tools see it: the lockfile's fields, CreateTime as a number.
pub fn pin_value(pin: &Pin) -> Value {
    json!({
        "image_id": pin.image_id,
        "image_name": pin.image_name,
        "os_name": pin.os_name,
        "os_type": pin.os_type,
        "image_type": pin.image_type,
        "create_time": pin.create_time,
        "features": pin.features,
        "maintain_eol": pin.maintain_eol,
        "project_id": pin.project_id,
    })
}

fn pretty(value: &Value) -> Result<String, Error> {
    serde_json::to_string_pretty(value)
        .map(|text| text + "\n")
        .map_err(|err| Error::Internal(format!("cannot render JSON: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockfile::LockedImage;
    use crate::ucloud::Image;

    fn lock(pins: &[(&str, &str, &str)]) -> Lockfile {
        let mut lock = Lockfile::default();
        for (entry, region, id) in pins {
            lock.images
                .entry(entry.to_string())
                .or_insert_with(|| LockedImage {
                    select: None,
                    agree: None,
                    checksum: None,
                    digest: String::new(),
                    pins: BTreeMap::new(),
                })
                .pins
                .insert(
                    region.to_string(),
                    Pin::from(&Image {
                        image_id: id.to_string(),
                        ..Image::default()
                    }),
                );
        }
        lock
    }

    #[test]
    fn env_names_are_shouting_snake_case() {
        assert_eq!(env_name("web", "cn-bj2"), "IMAGELOCK_WEB_CN_BJ2");
        assert_eq!(env_name("gpu-worker", "hk"), "IMAGELOCK_GPU_WORKER_HK");
        assert_eq!(env_name("a_b", "x.y"), "IMAGELOCK_A_B_X_Y");
    }

    #[test]
    fn env_refuses_colliding_names() {
        let text = render(
            &lock(&[("web", "cn-bj2", "uimage-1"), ("db", "hk", "uimage-2")]),
            Format::Env,
        )
        .unwrap();
        assert_eq!(
            text,
            "IMAGELOCK_DB_HK=uimage-2\nIMAGELOCK_WEB_CN_BJ2=uimage-1\n"
        );
        let err = render(
            &lock(&[("web-a", "b", "uimage-1"), ("web", "a-b", "uimage-2")]),
            Format::Env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("IMAGELOCK_WEB_A_B"), "{err}");
    }

    #[test]
    fn tfvars_is_a_map_of_maps_of_ids() {
        let text = render(
            &lock(&[("web", "cn-bj2", "uimage-1"), ("web", "hk", "uimage-2")]),
            Format::TfvarsJson,
        )
        .unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"imagelock_images": {"web": {"cn-bj2": "uimage-1", "hk": "uimage-2"}}})
        );
    }

    #[test]
    fn formats_parse_by_name() {
        assert_eq!("tfvars-json".parse::<Format>().unwrap(), Format::TfvarsJson);
        assert!("yaml".parse::<Format>().is_err());
    }
}
