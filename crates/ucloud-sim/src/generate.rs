//! Deterministic synthetic catalogs (`ucloud-sim generate`) for benchmarks and large tests:
//! UCloud-like OS families with several builds over ~3 years, ARM variants, images being made or
//! withdrawn, GPU market images, custom images, EOL dates and a few zone-specific images.

use std::collections::HashSet;

use fastrand::Rng;
use serde_json::{Map, Value, json};

use crate::catalog::Catalog;

/// Real UCloud region names, used first so generated catalogs look like the real thing.
pub const REAL_REGIONS: [&str; 20] = [
    "cn-bj2",
    "cn-sh2",
    "cn-gd",
    "hk",
    "us-ca",
    "sg",
    "tw-tp",
    "jpn-tky",
    "kr-seoul",
    "th-bkk",
    "idn-jakarta",
    "vn-sng",
    "ge-fra",
    "uk-london",
    "us-ws",
    "rus-mosc",
    "ind-mumbai",
    "bra-saopaulo",
    "uae-dubai",
    "afr-nigeria",
];

/// `(OsName, OsType, MaintainEol)` of the standard image families.
const FAMILIES: [(&str, &str, Option<&str>); 14] = [
    ("Ubuntu 22.04 64位", "Linux", Some("2027/04/30")),
    ("Ubuntu 20.04 64位", "Linux", Some("2025/04/30")),
    ("Ubuntu 24.04 64位", "Linux", Some("2029/04/30")),
    ("CentOS 7.9 64位", "Linux", Some("2024/06/30")),
    ("Rocky Linux 9.3 64位", "Linux", Some("2032/05/31")),
    ("Rocky Linux 8.9 64位", "Linux", Some("2029/05/31")),
    ("Rocky Linux 9.2 64位", "Linux", Some("2032/05/31")),
    ("Rocky Linux 8.8 64位", "Linux", Some("2029/05/31")),
    ("Debian 12.5 64位", "Linux", Some("2028/06/30")),
    ("Debian 11.6 64位", "Linux", Some("2026/06/30")),
    ("AlmaLinux 9.3 64位", "Linux", Some("2032/05/31")),
    ("OpenCloudOS 9.0 64位", "Linux", None),
    (
        "Windows Server 2022 数据中心版 64位中文版",
        "Windows",
        Some("2031/10/14"),
    ),
    (
        "Windows Server 2019 数据中心版 64位中文版",
        "Windows",
        Some("2029/01/09"),
    ),
];

const GPU_TYPES: [&str; 6] = ["A100", "H100", "V100S", "T4", "4090", "A800"];
const SCENES: [&str; 5] = [
    "Featured",
    "PreInstalledDrivers",
    "AIPainting",
    "AIModels",
    "HPC",
];
const GPU_STACKS: [(&str, &str); 5] = [
    ("CUDA 12.4", "NVIDIA Driver 550, CUDA 12.4, cuDNN 9"),
    ("CUDA 12.2", "NVIDIA Driver 535, CUDA 12.2, cuDNN 8.9"),
    ("PyTorch 2.3", "CUDA 12.1, PyTorch 2.3, Python 3.10"),
    (
        "Stable Diffusion WebUI",
        "CUDA 12.1, SD WebUI 1.9, Python 3.10",
    ),
    ("Ollama Llama 3", "CUDA 12.4, Ollama 0.3, Llama 3 8B"),
];
const VENDORS: [&str; 4] = ["UCloud", "NVIDIA", "深度学习社区", "Bitnami"];
const APPS: [(&str, &str); 4] = [
    ("宝塔Linux面板 8.0", "BT Panel"),
    ("WordPress 6.4", "WordPress"),
    ("LAMP (PHP 8.2)", "Apache, MySQL, PHP"),
    ("Docker CE 26", "Docker"),
];
const PROJECTS: [&str; 3] = ["org-demo", "org-team-a", "org-team-b"];

/// CreateTime window: 2023-01-01 .. 2026-01-01 (about three years).
const T0: u64 = 1_672_531_200;
const SPAN: u64 = 3 * 365 * 86_400;

fn region_name(i: usize) -> String {
    REAL_REGIONS
        .get(i)
        .map(|s| (*s).to_owned())
        .unwrap_or_else(|| format!("sim-region-{:03}", i + 1))
}

struct Gen {
    rng: Rng,
    ids: HashSet<String>,
    times: HashSet<u64>,
}

impl Gen {
    fn image_id(&mut self) -> String {
        const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        loop {
            let s: String = (0..8)
                .map(|_| ALNUM[self.rng.usize(..ALNUM.len())] as char)
                .collect();
            let id = format!("uimage-{s}");
            if self.ids.insert(id.clone()) {
                return id;
            }
        }
    }

    /// Distinct per image so "newest build" is never a tie.
    fn create_time(&mut self) -> u64 {
        let mut t = T0 + self.rng.u64(..SPAN);
        while !self.times.insert(t) {
            t += 1;
        }
        t
    }

    fn state(&mut self) -> &'static str {
        match self.rng.u32(..100) {
            0..85 => "Available",
            85..91 => "Making",
            91..96 => "Unavailable",
            _ => "Copying",
        }
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.u32(..100) < percent
    }

    fn zone(&mut self, region: &str) -> String {
        match self.rng.u32(..100) {
            0..92 => String::new(),
            92..96 => format!("{region}-01"),
            _ => format!("{region}-02"),
        }
    }

    fn linux_features(&mut self) -> Vec<&'static str> {
        let mut f = Vec::new();
        for (name, pct) in [
            ("NetEnhnced", 90),
            ("NetEnhanced_Ultra", 40),
            ("HotPlug", 85),
            ("CloudInit", 92),
            ("IPv6", 80),
            ("RssdAttachable", 30),
            ("NetEnhanced_Extreme", 10),
        ] {
            if self.chance(pct) {
                f.push(name);
            }
        }
        f
    }

    fn pick_some(&mut self, from: &[&'static str], max: usize) -> Vec<&'static str> {
        let n = 1 + self.rng.usize(..max.min(from.len()));
        let mut pool = from.to_vec();
        self.rng.shuffle(&mut pool);
        pool.truncate(n);
        pool
    }

    fn base(&mut self, region: &str) -> Value {
        let (os_name, os_type, eol) = FAMILIES[self.rng.usize(..FAMILIES.len())];
        let t = self.create_time();
        let mut features = if os_type == "Linux" {
            self.linux_features()
        } else {
            vec!["NetEnhnced", "HotPlug"]
        };
        if os_type == "Linux" && self.chance(10) {
            features.push("Aarch64_Type");
        }
        let arm = features.contains(&"Aarch64_Type");
        let mut img = self.common(region, os_name, os_name, os_type, "Base", "uhost", t);
        img.insert("Features".into(), json!(features));
        img.insert(
            "ImageDescription".into(),
            json!(format!(
                "{os_name} official image{}",
                if arm { " for aarch64" } else { "" }
            )),
        );
        // UCloud's docs: empty, or the oldest CPU platform the image runs on.
        img.insert(
            "MinimalCPU".into(),
            json!(if arm { "" } else { "Broadwell" }),
        );
        img.insert(
            "ImageSize".into(),
            json!(if os_type == "Windows" { 40 } else { 20 }),
        );
        if let Some(eol) = eol {
            img.insert("MaintainEol".into(), json!(eol));
        }
        Value::Object(img)
    }

    #[allow(clippy::too_many_arguments)]
    fn common(
        &mut self,
        region: &str,
        name: &str,
        os_name: &str,
        os_type: &str,
        image_type: &str,
        func_type: &str,
        t: u64,
    ) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("ImageId".into(), json!(self.image_id()));
        m.insert("ImageName".into(), json!(name));
        m.insert("Zone".into(), json!(self.zone(region)));
        m.insert("OsType".into(), json!(os_type));
        m.insert("OsName".into(), json!(os_name));
        m.insert("ImageType".into(), json!(image_type));
        // Only marketplace (Business) images carry a FuncType, per UCloud's API docs.
        if image_type == "Business" {
            m.insert("FuncType".into(), json!(func_type));
        }
        m.insert("State".into(), json!(self.state()));
        m.insert("CreateTime".into(), json!(t));
        m
    }

    fn gpu(&mut self, region: &str) -> Value {
        let os = if self.chance(75) {
            "Ubuntu 22.04 64位"
        } else {
            "Ubuntu 20.04 64位"
        };
        let (stack, software) = GPU_STACKS[self.rng.usize(..GPU_STACKS.len())];
        let gpus = self.pick_some(&GPU_TYPES, 3);
        let scenes = self.pick_some(&SCENES, 3);
        let vendor = VENDORS[self.rng.usize(..VENDORS.len())];
        let t = self.create_time();
        let name = format!("{} {stack}", os.trim_end_matches(" 64位"));
        let mut img = self.common(region, &name, os, "Linux", "Business", "gpu", t);
        let mut features = vec!["NetEnhnced", "CloudInit", "IPv6", "GPU"];
        if self.chance(25) {
            features.push(if self.chance(80) {
                "Vgpu_NVIDIA"
            } else {
                "Vgpu_AMD"
            });
        }
        img.insert("Features".into(), json!(features));
        img.insert("SupportedGPUTypes".into(), json!(gpus));
        img.insert("SceneCategories".into(), json!(scenes));
        img.insert("Vendor".into(), json!(vendor));
        img.insert("IntegratedSoftware".into(), json!(software));
        img.insert("PrimarySoftware".into(), json!(stack));
        img.insert(
            "ImageDescription".into(),
            json!(format!("{os} with {software}")),
        );
        img.insert(
            "Links".into(),
            json!("https://docs.ucloud.cn/uhost/introduction/image/gpu_image"),
        );
        img.insert("ImageSize".into(), json!(50));
        img.insert("MinimalCPU".into(), json!("Skylake"));
        img.insert("DataSnapshotIds".into(), json!([]));
        Value::Object(img)
    }

    fn app(&mut self, region: &str) -> Value {
        let (name, software) = APPS[self.rng.usize(..APPS.len())];
        let t = self.create_time();
        let mut img = self.common(
            region,
            name,
            "CentOS 7.9 64位",
            "Linux",
            "Business",
            "uhost",
            t,
        );
        img.insert("Features".into(), json!(["NetEnhnced", "CloudInit"]));
        img.insert(
            "Vendor".into(),
            json!(VENDORS[self.rng.usize(..VENDORS.len())]),
        );
        img.insert("IntegratedSoftware".into(), json!(software));
        img.insert("PrimarySoftware".into(), json!(software));
        img.insert(
            "ImageDescription".into(),
            json!(format!("{name} one-click image")),
        );
        img.insert("ImageSize".into(), json!(40));
        img.insert("MinimalCPU".into(), json!(""));
        img.insert(
            "PriceSet".into(),
            json!([{"ChargeType": "Month", "Price": 30.0, "OriginalPrice": 30.0}]),
        );
        Value::Object(img)
    }

    fn custom(&mut self, region: &str, n: usize) -> Value {
        let (os_name, os_type, _) = FAMILIES[self.rng.usize(..FAMILIES.len())];
        let t = self.create_time();
        let name = format!("custom-golden-{n:03}");
        let mut img = self.common(region, &name, os_name, os_type, "Custom", "uhost", t);
        let features = if os_type == "Linux" {
            self.linux_features()
        } else {
            vec!["NetEnhnced"]
        };
        // The API sends `null` for an empty list now and then.
        if self.chance(10) {
            img.insert("Features".into(), Value::Null);
        } else {
            img.insert("Features".into(), json!(features));
        }
        img.insert("ImageDescription".into(), json!("team golden image"));
        img.insert("ImageSize".into(), json!(20 + 10 * self.rng.u64(..4)));
        img.insert("Tag".into(), json!("Default"));
        if self.chance(50) {
            img.insert(
                "ProjectId".into(),
                json!(PROJECTS[self.rng.usize(..PROJECTS.len())]),
            );
        }
        Value::Object(img)
    }
}

pub(crate) fn generate(regions: usize, per_region: usize, seed: u64) -> Catalog {
    let mut g = Gen {
        rng: Rng::with_seed(seed),
        ids: HashSet::new(),
        times: HashSet::new(),
    };
    let mut catalog = Catalog::new();
    for r in 0..regions {
        let region = region_name(r);
        // Listed even when empty, so "known region, no images" can be tested.
        catalog.add_region(&region);
        for n in 0..per_region {
            let image = match g.rng.u32(..100) {
                0..70 => g.base(&region),
                70..80 => g.gpu(&region),
                80..86 => g.app(&region),
                _ => g.custom(&region, n),
            };
            catalog.push(&region, image);
        }
    }
    catalog
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_unique_and_varied() {
        let a = generate(25, 60, 42);
        assert_eq!(a, generate(25, 60, 42));
        assert_ne!(a, generate(25, 60, 43));
        assert_eq!(a.regions().len(), 25);
        assert_eq!(&a.regions()[..3], ["cn-bj2", "cn-sh2", "cn-gd"]);
        assert_eq!(a.len(), 25 * 60);
        let all: Vec<&Value> = a.regions().iter().flat_map(|r| a.images(r)).collect();
        let ids: HashSet<&str> = all.iter().map(|i| i["ImageId"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), all.len());
        assert!(ids.iter().all(|id| {
            id.len() == 15
                && id[7..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        }));
        let times: HashSet<u64> = all
            .iter()
            .map(|i| i["CreateTime"].as_u64().unwrap())
            .collect();
        assert_eq!(times.len(), all.len());
        let has = |k: &str, v: &str| all.iter().any(|i| i[k] == v);
        for state in ["Available", "Making", "Unavailable", "Copying"] {
            assert!(has("State", state), "{state}");
        }
        assert!(has("FuncType", "gpu") && has("ImageType", "Custom") && has("OsType", "Windows"));
        assert!(all.iter().any(|i| i.get("ProjectId").is_some()));
        let has_feature = |name: &str| {
            all.iter().any(|i| {
                i["Features"]
                    .as_array()
                    .is_some_and(|f| f.contains(&json!(name)))
            })
        };
        for feature in [
            "Aarch64_Type",
            "NetEnhanced_Extreme",
            "Vgpu_NVIDIA",
            "Vgpu_AMD",
        ] {
            assert!(has_feature(feature), "{feature}");
        }
        assert!(all.iter().any(|i| i["Features"].is_null()));
        // Only marketplace images carry FuncType; MinimalCPU is a CPU platform or empty.
        assert!(
            all.iter()
                .all(|i| (i["ImageType"] == "Business") == i.get("FuncType").is_some())
        );
        assert!(all.iter().all(|i| i.get("MinimalCPU").is_none_or(|c| {
            c.as_str()
                .is_some_and(|c| c.is_empty() || c.chars().all(|ch| ch.is_ascii_alphabetic()))
        })));
        assert!(has("MaintainEol", "2024/06/30"));
        assert!(
            all.iter()
                .any(|i| i["Zone"].as_str().unwrap().ends_with("-01"))
        );
        // Serialised form round-trips.
        assert_eq!(Catalog::from_json(&a.to_json_pretty()).unwrap(), a);
    }
}
