//! `imagelock images`: browse what a region offers, newest first, with the spec's own filter
//! semantics, so what you see here is what an entry with the same filters would choose from.

use clap::Args;
use clap::builder::PossibleValuesParser;
use imagelock::plan::Listing;
use imagelock::select;
use imagelock::spec::{
    Filters, FuncType, ImageState, ImageType, OsType, Pattern, Selection, SetMatch,
};
use imagelock::text::{Table, escape};
use imagelock::ucloud::{self, Image};
use imagelock::{Error, Exit, Result};

use super::{Session, created_date};

#[derive(Debug, Clone, Args)]
pub struct ImagesArgs {
    /// The region [default: the UCloud CLI profile's region].
    #[arg(long)]
    pub region: Option<String>,
    /// Only images visible in this zone (sent to the API).
    #[arg(long)]
    pub zone: Option<String>,
    /// The project to list in (sent to the API).
    #[arg(long)]
    pub project_id: Option<String>,
    /// Only this OsType (sent to the API).
    #[arg(long, value_parser = PossibleValuesParser::new(OsType::ALL.iter().map(|t| t.as_str())))]
    pub os_type: Option<String>,
    /// Only this ImageType: Base (UCloud's), Business (marketplace) or Custom (yours).
    #[arg(long, value_parser = PossibleValuesParser::new(ImageType::ALL.iter().map(|t| t.as_str())))]
    pub image_type: Option<String>,
    /// Only this FuncType (marketplace images carry one).
    #[arg(long, value_parser = PossibleValuesParser::new(FuncType::ALL.iter().map(|t| t.as_str())))]
    pub func_type: Option<String>,
    /// Regex searched in the image name (Rust regex syntax).
    #[arg(long, value_parser = parse_regex)]
    pub name: Option<Pattern>,
    /// Regex searched in the OS name.
    #[arg(long, value_parser = parse_regex)]
    pub os_name: Option<Pattern>,
    /// States to show, comma-separated [default: Available].
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = PossibleValuesParser::new(ImageState::ALL.iter().map(|t| t.as_str()))
    )]
    pub state: Vec<String>,
    /// Features every image must have, comma-separated (e.g. IPv6,CloudInit).
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// Show at most this many images.
    #[arg(long)]
    pub limit: Option<usize>,
}

fn parse_regex(text: &str) -> std::result::Result<Pattern, String> {
    regex::Regex::new(text)
        .map(|regex| Pattern {
            source: text.to_string(),
            regex: std::sync::Arc::new(regex),
        })
        .map_err(|err| format!("not a valid regex: {err}"))
}

pub fn run(session: &Session, args: &ImagesArgs) -> Result<Exit> {
    let region = match &args.region {
        Some(region) => region.clone(),
        None => profile_region(session)?.ok_or_else(|| {
            Error::Invalid(
                "which region? pass --region (e.g. --region cn-bj2), or set `region` in the \
                 UCloud CLI profile (~/.ucloud/config.json)"
                    .into(),
            )
        })?,
    };
    let filters = filters_of(args);
    let listing = Listing {
        region: region.clone(),
        zone: args.zone.clone(),
        project_id: args.project_id.clone(),
        os_type: filters.os_type,
        image_type: filters.image_type,
        func_type: filters.func_type,
        image_id: None,
    };

    let client = session.client()?;
    let listed = session.block_on(client.list(&listing))??;
    drop(client);
    session.progress.finish();

    let (mut shown, _funnel) =
        select::filter(&filters, &listed, &imagelock::select::Context::from_env()?);
    select::rank(Selection::Newest, &mut shown);
    let matched = shown.len();
    if let Some(limit) = args.limit {
        shown.truncate(limit);
    }

    if session.args.json {
        session.print_json(&serde_json::Value::Array(
            shown.iter().map(|image| image_json(image)).collect(),
        ))?;
    } else {
        session.out(&table(&shown))?;
        session.status(format!(
            "{} of {matched} matching images shown ({} listed in {region})",
            shown.len(),
            listed.len()
        ));
    }
    Ok(Exit::Success)
}

fn profile_region(session: &Session) -> Result<Option<String>> {
    let env = |name: &str| std::env::var(name).ok();
    Ok(ucloud::load_settings(session.args.profile.as_deref(), &env)?.region)
}

fn filters_of(args: &ImagesArgs) -> Filters {
    let mut state: Vec<ImageState> = args
        .state
        .iter()
        .filter_map(|s| ImageState::parse(s))
        .collect();
    state.sort_unstable();
    state.dedup();
    let mut features = args.features.clone();
    features.retain(|f| !f.trim().is_empty());
    features.sort_unstable();
    features.dedup();
    let defaults = Filters::default();
    Filters {
        os_type: args.os_type.as_deref().and_then(OsType::parse),
        image_type: args.image_type.as_deref().and_then(ImageType::parse),
        func_type: args.func_type.as_deref().and_then(FuncType::parse),
        state: if state.is_empty() {
            defaults.state.clone()
        } else {
            state
        },
        name: args.name.clone(),
        os_name: args.os_name.clone(),
        features: (!features.is_empty()).then(|| SetMatch {
            all: features,
            ..SetMatch::default()
        }),
        ..defaults
    }
}

/// One image in `--json`: the API's facts under the lockfile's key names.
fn image_json(image: &Image) -> serde_json::Value {
    serde_json::json!({
        "image_id": image.image_id,
        "image_name": image.image_name,
        "os_name": image.os_name,
        "os_type": image.os_type,
        "image_type": image.image_type,
        "func_type": image.func_type,
        "state": image.state,
        "zone": image.zone,
        "create_time": image.create_time,
        "created": created_date(image.create_time),
        "features": image.features,
        "maintain_eol": image.maintain_eol,
    })
}

/// `IMAGE ID  CREATED  STATE  NAME  FEATURES`, aligned by display width (`64位` takes four
/// columns); the long features list goes last, where a narrow terminal's wrapping hurts least.
/// Features are sorted (byte order, as in the lockfile) so rows compare at a glance; the API's
/// order varies from image to image. `--json` keeps the API's order: it is the data as listed.
fn table(images: &[&Image]) -> String {
    let mut table = Table::new();
    table.row(["IMAGE ID", "CREATED", "STATE", "NAME", "FEATURES"]);
    for image in images {
        let features = if image.features.is_empty() {
            "-".to_string()
        } else {
            let mut features: Vec<&str> = image.features.iter().map(String::as_str).collect();
            features.sort_unstable();
            escape(&features.join(",")).into_owned()
        };
        table.row([
            image.image_id.clone(),
            created_date(image.create_time),
            escape(&image.state).into_owned(),
            escape(&image.image_name).into_owned(),
            features,
        ]);
    }
    table.render("")
}
