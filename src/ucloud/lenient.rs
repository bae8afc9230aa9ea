//! How the fields of an answer are read: strictly where a wrong value must stop the run
//! (`RetCode`, `TotalCount`, `ImageId`, `CreateTime`), leniently elsewhere, so one image with an
//! odd optional field cannot make a whole region unreadable.
//!
//! `RetCode` and `TotalCount` are taken as a JSON number or a numeric string: UCloud's Go SDK
//! rewrites `"RetCode": "0"` into a number before decoding (`private/utils/patch.go` in
//! `ucloud/ucloud-sdk-go`), so the API is known to send both.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// An integer sent as a JSON number or as a string of digits (surrounding spaces allowed).
pub fn flexible_int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer, as a number or a numeric string")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            // `1.0` from a JSON encoder that only has floats; never a fraction.
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(v as i64)
            } else {
                Err(E::invalid_type(de::Unexpected::Float(v), &self))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.trim()
                .parse()
                .map_err(|_| E::invalid_value(de::Unexpected::Str(&shorten(v)), &self))
        }
    }
    deserializer.deserialize_any(V)
}

/// An optional count: [`flexible_int`] that must not be negative; `null` is absent.
pub fn flexible_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a count, as a number or a numeric string")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            let value = flexible_int(d)?;
            u64::try_from(value)
                .map(Some)
                .map_err(|_| de::Error::custom(format!("TotalCount {value} is negative")))
        }
    }
    deserializer.deserialize_option(V)
}

/// An optional string: a value of any other type (number, list, object, bool, null) reads as
/// absent, the empty string.
pub fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(deserializer
        .deserialize_any(MaybeString)?
        .unwrap_or_default())
}

/// An optional list of strings: anything else, or a list with a non-string item, reads as absent.
pub fn strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of strings")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut items = Vec::new();
            let mut malformed = false;
            while let Some(item) = seq.next_element_seed(MaybeString)? {
                match item {
                    Some(item) if !malformed => items.push(item),
                    _ => malformed = true,
                }
            }
            Ok(if malformed { Vec::new() } else { items })
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<String>, A::Error> {
            drain_map(map).map(|()| Vec::new())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
    }
    deserializer.deserialize_any(V)
}

/// A string, or `None` for a value of any other type (which is consumed whole).
struct MaybeString;

impl<'de> de::DeserializeSeed<'de> for MaybeString {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MaybeString {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|()| None)
    }
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A value quoted in an error, cut so a hostile answer cannot flood the terminal.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Codes {
        #[serde(deserialize_with = "super::flexible_int")]
        code: i64,
        #[serde(default, deserialize_with = "super::flexible_count")]
        count: Option<u64>,
    }

    fn codes(json: &str) -> Result<(i64, Option<u64>), String> {
        serde_json::from_str::<Codes>(json)
            .map(|c| (c.code, c.count))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_or_numeric_strings() {
        assert_eq!(codes(r#"{"code": 0, "count": 12}"#), Ok((0, Some(12))));
        assert_eq!(
            codes(r#"{"code": "153", "count": " 7 "}"#),
            Ok((153, Some(7)))
        );
        assert_eq!(codes(r#"{"code": 1.0}"#), Ok((1, None)));
        assert_eq!(codes(r#"{"code": 0, "count": null}"#), Ok((0, None)));
        assert!(codes(r#"{"code": "ok"}"#).is_err());
        assert!(codes(r#"{"code": 0, "count": -1}"#).is_err());
        assert!(codes(r#"{"code": 0.5}"#).is_err());
        assert!(codes(r#"{"code": true}"#).is_err());
    }
}
