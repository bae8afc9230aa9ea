//! `imagelock init`: a starter `imagelock.yaml` with the schema modeline (editor completion and
//! checks through yaml-language-server) and commented examples of every kind of filter.

use std::io::Write;

use imagelock::{Error, Exit, Result, ucloud};

use super::Session;

/// Where editors fetch the schema from; `imagelock schema` prints the same document offline.
pub const SCHEMA_URL: &str =
    "https://raw.githubusercontent.com/imagelock/imagelock/main/schemas/imagelock.schema.json";

/// The region written when neither `--region` nor the UCloud CLI profile names one.
const FALLBACK_REGION: &str = "cn-bj2";

pub fn run(session: &Session, region: Option<&str>, force: bool) -> Result<Exit> {
    let path = &session
        .args
        .spec
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(imagelock::ops::workspace::SPEC_FILE));
    let region = match region {
        Some(region) => region.to_string(),
        // The UCloud CLI profile's region is the user's usual one; credentials are not needed.
        None => profile_region(session).unwrap_or_else(|| FALLBACK_REGION.to_string()),
    };
    if !is_region_name(&region) {
        return Err(Error::Invalid(format!(
            "--region {region:?} is not a region name (lowercase letters, digits and `-`, like cn-bj2 or hk)"
        )));
    }
    let text = starter(&region);

    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // create_new: two concurrent inits cannot both think the file was theirs to write.
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|err| {
        if err.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Invalid(format!(
                "{} already exists; edit it, or run `imagelock init --force` to replace it",
                path.display()
            ))
        } else {
            Error::io("create", path, err)
        }
    })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|err| Error::io("write", path, err))?;

    session.status(format!(
        "Created {} (default region {region}); next: edit it, then run `imagelock lock`",
        path.display()
    ));
    Ok(Exit::Success)
}

fn profile_region(session: &Session) -> Option<String> {
    let env = |name: &str| std::env::var(name).ok();
    // A broken profile must not stop `init`; `lock` will report it where it matters.
    ucloud::load_settings(session.args.profile.as_deref(), &env)
        .ok()?
        .region
}

fn is_region_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The starter spec: one working entry, the rest commented out so it locks on the first try.
pub fn starter(region: &str) -> String {
    format!(
        r#"# yaml-language-server: $schema={SCHEMA_URL}
#
# imagelock.yaml: the images this repository deploys. `imagelock lock` pins each entry to an
# exact ImageId in imagelock.lock; commit both files. `imagelock images --region {region}` shows
# what a region offers, `imagelock validate` checks this file without calling the API.
version: 1

# Applied to every entry; an entry's own keys win (filters merge key by key).
defaults:
  region: {region}
  filters:
    os_type: Linux
    # state: Available          # the default; a list allows more: [Available, Making]

images:
  # The newest available Ubuntu 22.04 base image with cloud-init.
  web:
    filters:
      image_type: Base
      name: "^Ubuntu 22\\.04"
      features: [CloudInit]
    select: newest               # newest (default) | oldest | highest_version | only

  # One pin per region, the highest Rocky Linux 9.x release, never ARM builds:
  # worker:
  #   regions: [{region}, hk]
  #   filters:
  #     image_type: Base
  #     os_name: "^Rocky Linux"
  #     version: "9"              # Cargo-style requirement: ">=22.04, <24", "~11", "=2019"
  #     features: {{ all: [IPv6], none: [Aarch64_Type] }}
  #   select: highest_version

  # A GPU market image for A100 or H100 cards, at most 90 days old, not past its end of life:
  # gpu:
  #   zone: {region}-02           # a zone of the entry's single region
  #   filters:
  #     func_type: gpu
  #     supported_gpu_types: {{ any: [A100, H100] }}
  #     max_age: 90d
  #     not_eol: true

  # Windows overrides the default os_type:
  # windows:
  #   filters:
  #     os_type: Windows
  #     version: "=2022"
"#
    )
}
