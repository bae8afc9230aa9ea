//! The image catalog the simulator serves: a JSON object mapping region → list of
//! `UHostImageSet` objects, plus the server-side filtering and paging of `DescribeImage`.
//!
//! Images are kept as raw `serde_json::Value`s so that every field a catalog author writes
//! (including ones this crate has never heard of) is passed through to clients untouched.

use std::fmt;
use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Region → images, in file order. A `Vec` rather than a map so that region order survives a
/// load/save round trip and image order (which makes paging stable) is exactly the file's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog(Vec<(String, Vec<Value>)>);

/// One change to a running simulator's catalog (`POST /__sim/catalog` takes a JSON list of them),
/// so the README's maintenance sessions (a new build appears, a pinned image is retired) can be
/// replayed without restarting the server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Edit {
    /// Appends an image (a `UHostImageSet` object) to a region, creating the region if needed.
    Add { region: String, image: Value },
    /// Sets fields of every image with this id (`{"State": "Unavailable"}` retires one).
    Update {
        image_id: String,
        fields: serde_json::Map<String, Value>,
    },
    /// Removes every image with this id.
    Remove { image_id: String },
    /// Replaces the whole catalog.
    Replace { catalog: Catalog },
}

/// The filters and paging of one `DescribeImage` call, already parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub region: String,
    pub zone: Option<String>,
    pub project_id: Option<String>,
    pub image_type: Option<String>,
    pub os_type: Option<String>,
    pub func_type: Option<String>,
    pub image_id: Option<String>,
    pub image_ids: Vec<String>,
    pub offset: usize,
    pub limit: usize,
    pub price_set: bool,
}

impl Query {
    /// A query for everything in `region`, first page of the default size.
    pub fn region(region: &str) -> Self {
        Query {
            region: region.to_owned(),
            limit: 20,
            ..Query::default()
        }
    }
}

fn str_field<'a>(image: &'a Value, name: &str) -> &'a str {
    image.get(name).and_then(Value::as_str).unwrap_or("")
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Catalog(Vec::new())
    }

    /// Parses a catalog document; every region must map to a list of JSON objects.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let catalog: Catalog =
            serde_json::from_str(text).map_err(|e| format!("invalid catalog JSON: {e}"))?;
        for (region, images) in &catalog.0 {
            for (i, image) in images.iter().enumerate() {
                if !image.is_object() {
                    return Err(format!(
                        "catalog region {region:?} item {i} is not an object"
                    ));
                }
            }
        }
        Ok(catalog)
    }

    /// Reads and parses a catalog file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read catalog {}: {e}", path.display()))?;
        Self::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A realistic synthetic catalog, identical for identical arguments.
    pub fn generate(regions: usize, per_region: usize, seed: u64) -> Self {
        crate::generate::generate(regions, per_region, seed)
    }

    /// The catalog as a pretty-printed JSON document (the `--catalog` file format).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Region names, in catalog order.
    pub fn regions(&self) -> Vec<&str> {
        self.0.iter().map(|(r, _)| r.as_str()).collect()
    }

    /// All images of a region (empty if the region is unknown), in catalog order.
    pub fn images(&self, region: &str) -> &[Value] {
        self.0
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    /// Total number of images over all regions.
    pub fn len(&self) -> usize {
        self.0.iter().map(|(_, v)| v.len()).sum()
    }

    /// True when no region holds any image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends an image to a region (creating the region at the end if needed).
    pub fn push(&mut self, region: &str, image: Value) {
        match self.0.iter_mut().find(|(r, _)| r == region) {
            Some((_, images)) => images.push(image),
            None => self.0.push((region.to_owned(), vec![image])),
        }
    }

    /// Adds an empty region at the end unless it exists.
    pub fn add_region(&mut self, region: &str) {
        if !self.0.iter().any(|(r, _)| r == region) {
            self.0.push((region.to_owned(), Vec::new()));
        }
    }

    /// Removes every image with this id from every region; true if any was removed.
    pub fn remove(&mut self, image_id: &str) -> bool {
        let mut removed = false;
        for (_, images) in &mut self.0 {
            let before = images.len();
            images.retain(|img| str_field(img, "ImageId") != image_id);
            removed |= images.len() != before;
        }
        removed
    }

    /// Applies edits in order, all or nothing: on an error (an image that is not an object, an id
    /// that is not there) the catalog is left as it was.
    pub fn apply(&mut self, edits: &[Edit]) -> Result<(), String> {
        let mut next = self.clone();
        for (n, edit) in edits.iter().enumerate() {
            match edit {
                Edit::Add { region, image } => {
                    if !image.is_object() || str_field(image, "ImageId").is_empty() {
                        return Err(format!(
                            "edit {n}: the image must be an object with an ImageId"
                        ));
                    }
                    next.push(region, image.clone());
                }
                Edit::Update { image_id, fields } => {
                    let found = next.modify(image_id, |img| {
                        if let Some(obj) = img.as_object_mut() {
                            for (k, v) in fields {
                                obj.insert(k.clone(), v.clone());
                            }
                        }
                    });
                    if !found {
                        return Err(format!("edit {n}: no image {image_id:?}"));
                    }
                }
                Edit::Remove { image_id } => {
                    if !next.remove(image_id) {
                        return Err(format!("edit {n}: no image {image_id:?}"));
                    }
                }
                Edit::Replace { catalog } => next = catalog.clone(),
            }
        }
        *self = next;
        Ok(())
    }

    /// Sets `State` on every image with this id; true if any was found.
    pub fn set_state(&mut self, image_id: &str, state: &str) -> bool {
        self.modify(image_id, |img| {
            img["State"] = Value::String(state.to_owned());
        })
    }

    /// Applies `f` to every image with this id; true if any was found.
    pub fn modify(&mut self, image_id: &str, mut f: impl FnMut(&mut Value)) -> bool {
        let mut found = false;
        for (_, images) in &mut self.0 {
            for img in images.iter_mut() {
                if str_field(img, "ImageId") == image_id {
                    f(img);
                    found = true;
                }
            }
        }
        found
    }

    /// Whether one image passes the server-side filters of `q` (paging aside).
    pub fn matches(image: &Value, q: &Query) -> bool {
        // An image without a zone is a region-wide image, visible from every zone.
        if let Some(zone) = &q.zone {
            let z = str_field(image, "Zone");
            if !z.is_empty() && z != zone {
                return false;
            }
        }
        // Project-scoped (custom) images are private to their project. `ProjectId` is the
        // simulator's own owner field: `UHostImageSet` has none, so answers never carry it.
        let owner = str_field(image, "ProjectId");
        if !owner.is_empty() && q.project_id.as_deref() != Some(owner) {
            return false;
        }
        let eq = |field: &str, want: &Option<String>| match want {
            Some(w) => str_field(image, field) == w,
            None => true,
        };
        if !eq("ImageType", &q.image_type)
            || !eq("OsType", &q.os_type)
            || !eq("ImageId", &q.image_id)
        {
            return false;
        }
        // The real API ignores a FuncType it does not know rather than returning nothing.
        if let Some(f) = &q.func_type
            && matches!(f.as_str(), "gpu" | "app" | "uhost")
            && str_field(image, "FuncType") != f
        {
            return false;
        }
        if !q.image_ids.is_empty()
            && !q
                .image_ids
                .iter()
                .any(|id| id == str_field(image, "ImageId"))
        {
            return false;
        }
        true
    }

    /// Answers a query: `(TotalCount, page)`, the page at most `min(limit, page_cap)` long.
    /// `PriceSet` is stripped unless the query asked for prices, as the real API does, and the
    /// simulator's owner field `ProjectId` always is.
    pub fn query(&self, q: &Query, page_cap: usize) -> (usize, Vec<Value>) {
        let all: Vec<&Value> = self
            .images(&q.region)
            .iter()
            .filter(|img| Self::matches(img, q))
            .collect();
        let take = q.limit.min(page_cap.max(1));
        let page = all
            .iter()
            .skip(q.offset)
            .take(take)
            .map(|img| {
                let mut img = (*img).clone();
                if let Some(obj) = img.as_object_mut() {
                    obj.remove("ProjectId");
                    if !q.price_set {
                        obj.remove("PriceSet");
                    }
                }
                img
            })
            .collect();
        (all.len(), page)
    }
}

impl Serialize for Catalog {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (region, images) in &self.0 {
            map.serialize_entry(region, images)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Catalog {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Catalog;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping region names to lists of images")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Catalog, A::Error> {
                let mut out: Vec<(String, Vec<Value>)> = Vec::new();
                while let Some((region, images)) = map.next_entry::<String, Vec<Value>>()? {
                    match out.iter_mut().find(|(r, _)| *r == region) {
                        Some((_, v)) => v.extend(images),
                        None => out.push((region, images)),
                    }
                }
                Ok(Catalog(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cat() -> Catalog {
        Catalog::from_json(
            r#"{"cn-bj2":[
                {"ImageId":"uimage-a","Zone":"","ImageType":"Base","OsType":"Linux","PriceSet":[]},
                {"ImageId":"uimage-b","Zone":"cn-bj2-04","ImageType":"Base","OsType":"Linux"},
                {"ImageId":"uimage-c","ImageType":"Custom","OsType":"Windows","ProjectId":"org-demo"},
                {"ImageId":"uimage-d","ImageType":"Business","FuncType":"gpu","OsType":"Linux"}
            ],"hk":[]}"#,
        )
        .unwrap()
    }

    fn ids(v: &[Value]) -> Vec<&str> {
        v.iter().map(|i| str_field(i, "ImageId")).collect()
    }

    #[test]
    fn filters_and_paging() {
        let c = cat();
        let mut q = Query::region("cn-bj2");
        assert_eq!(
            ids(&c.query(&q, 100).1),
            ["uimage-a", "uimage-b", "uimage-d"]
        );
        q.zone = Some("cn-bj2-03".into());
        assert_eq!(ids(&c.query(&q, 100).1), ["uimage-a", "uimage-d"]);
        q.zone = None;
        q.project_id = Some("org-demo".into());
        assert_eq!(c.query(&q, 100).0, 4);
        q.func_type = Some("bogus".into());
        assert_eq!(c.query(&q, 100).0, 4);
        q.func_type = Some("gpu".into());
        assert_eq!(ids(&c.query(&q, 100).1), ["uimage-d"]);
        let mut q = Query::region("cn-bj2");
        q.offset = 1;
        let (total, page) = c.query(&q, 1);
        assert_eq!((total, ids(&page)), (3, vec!["uimage-b"]));
        assert!(
            c.query(&Query::region("cn-bj2"), 10).1[0]
                .get("PriceSet")
                .is_none()
        );
        assert_eq!(c.query(&Query::region("nowhere"), 10).0, 0);
        let mut q = Query::region("cn-bj2");
        q.project_id = Some("org-demo".into());
        let custom = c.query(&q, 10).1;
        assert!(custom.iter().all(|i| i.get("ProjectId").is_none()));
    }

    #[test]
    fn mutators_and_round_trip() {
        let mut c = cat();
        assert!(c.set_state("uimage-a", "Unavailable"));
        assert!(c.remove("uimage-b"));
        assert!(!c.remove("uimage-b"));
        c.push("zz", json!({"ImageId":"uimage-z"}));
        c.push("aa", json!({"ImageId":"uimage-y"}));
        assert_eq!(c.regions(), ["cn-bj2", "hk", "zz", "aa"]);
        let again = Catalog::from_json(&c.to_json_pretty()).unwrap();
        assert_eq!(again, c);
        assert!(Catalog::from_json("[1]").is_err());
        assert!(Catalog::from_json(r#"{"a":[1]}"#).is_err());
    }

    #[test]
    fn edits_apply_in_order_or_not_at_all() {
        let mut c = cat();
        let edits: Vec<Edit> = serde_json::from_str(
            r#"[{"op": "add", "region": "hk", "image": {"ImageId": "uimage-new"}},
                {"op": "update", "image_id": "uimage-a", "fields": {"State": "Unavailable"}},
                {"op": "remove", "image_id": "uimage-b"}]"#,
        )
        .unwrap();
        c.apply(&edits).unwrap();
        assert_eq!(ids(c.images("hk")), ["uimage-new"]);
        assert_eq!(c.images("cn-bj2")[0]["State"], "Unavailable");
        assert_eq!(
            ids(c.images("cn-bj2")),
            ["uimage-a", "uimage-c", "uimage-d"]
        );
        let before = c.clone();
        let bad: Vec<Edit> = serde_json::from_str(
            r#"[{"op": "remove", "image_id": "uimage-a"}, {"op": "remove", "image_id": "nope"}]"#,
        )
        .unwrap();
        assert_eq!(c.apply(&bad).unwrap_err(), "edit 1: no image \"nope\"");
        assert_eq!(c, before);
        assert!(serde_json::from_str::<Vec<Edit>>(r#"[{"op": "explode"}]"#).is_err());
    }
}
