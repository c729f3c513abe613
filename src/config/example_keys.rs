//! The example config documents every key the schema accepts: the keys are read off the raw
//! config's `Deserialize` impls (by a deserializer that answers every field it is asked for),
//! so a key added to `raw.rs` without an example line fails here.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use serde::Deserialize;
use serde::de::value::{Error, StrDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::raw::{RawConfig, RawProcedureTable};

type Keys = Rc<RefCell<BTreeSet<String>>>;

/// Deserializes any schema type, recording the dotted path of every key it is asked for. Map
/// keys chosen by the user (department codes, status codes...) are `*`; an array's elements
/// share their array's path.
struct Schema {
    path: String,
    keys: Keys,
}

impl Schema {
    fn leaf(&self) {
        self.keys.borrow_mut().insert(self.path.clone());
    }

    fn child(&self, key: &str) -> Schema {
        let path = match self.path.as_str() {
            "" => key.to_string(),
            p => format!("{p}.{key}"),
        };
        Schema {
            path,
            keys: self.keys.clone(),
        }
    }
}

/// The fields of one struct, each given once.
struct Fields {
    parent: Schema,
    fields: std::iter::Copied<std::slice::Iter<'static, &'static str>>,
    current: Option<&'static str>,
}

impl<'de> MapAccess<'de> for Fields {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        self.current = self.fields.next();
        self.current
            .map(|f| seed.deserialize(StrDeserializer::<Error>::new(f)))
            .transpose()
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(self.parent.child(self.current.expect("a key was given")))
    }
}

/// One element, or one entry keyed `*`.
struct One(Option<Schema>);

impl<'de> SeqAccess<'de> for One {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0.take().map(|s| seed.deserialize(s)).transpose()
    }
}

impl<'de> MapAccess<'de> for One {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.0 {
            Some(_) => seed
                .deserialize(StrDeserializer::<Error>::new("*"))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let parent = self.0.take().expect("a key was given");
        seed.deserialize(parent.child("*"))
    }
}

impl<'de> de::Deserializer<'de> for Schema {
    type Error = Error;

    /// An untagged value: recorded as a leaf, answered as a string.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_str("")
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_bool(false)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_i64(1)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_u64(1)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_f64(0.5)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_seq(One(Some(self)))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_map(One(Some(self)))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if !self.path.is_empty() {
            self.leaf();
        }
        visitor.visit_map(Fields {
            parent: self,
            fields: fields.iter().copied(),
            current: None,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_enum(variants[0].into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u128 f32 char str string bytes byte_buf unit unit_struct
        tuple tuple_struct identifier ignored_any
    }
}

/// The dotted paths of every key `T` accepts under `prefix`.
fn keys_of<T: for<'de> Deserialize<'de>>(prefix: &str) -> BTreeSet<String> {
    let keys = Keys::default();
    T::deserialize(Schema {
        path: prefix.to_string(),
        keys: keys.clone(),
    })
    .unwrap_or_else(|e| {
        panic!(
            "the schema reader cannot answer {}: {e}",
            std::any::type_name::<T>()
        )
    });
    keys.take()
}

/// Every key of the file's schema.
fn schema_keys() -> BTreeSet<String> {
    let mut keys = keys_of::<RawConfig>("");
    // `[catalogue.procedures]` entries are untagged (a string or a table), which a reader that
    // answers one shape cannot walk into; the table form's keys are added from its own type.
    keys.extend(keys_of::<RawProcedureTable>("catalogue.procedures.*"));
    keys
}

/// Whether `path` is set in `value` (`*` matching any key, an array any of its elements).
fn set_in(value: &toml::Value, path: &[&str]) -> bool {
    match (value, path.split_first()) {
        (_, None) => true,
        (toml::Value::Array(items), Some(_)) => items.iter().any(|v| set_in(v, path)),
        (toml::Value::Table(t), Some((&"*", rest))) => t.values().any(|v| set_in(v, rest)),
        (toml::Value::Table(t), Some((key, rest))) => t.get(*key).is_some_and(|v| set_in(v, rest)),
        _ => false,
    }
}

#[test]
fn the_schema_reader_finds_nested_keys_maps_and_arrays() {
    let keys = schema_keys();
    for expected in [
        "service.tls_server_config.cert_file",
        "source.status_map.*",
        "catalogue.procedures.*.next_day_after",
        "escalation.level.digest_schedule",
        "recipients.department_heads.*",
        "sla.on_time_rule",
        "calendar.builtin",
    ] {
        assert!(keys.contains(expected), "{expected} not in {keys:?}");
    }
    assert!(
        !keys.iter().any(|k| k.starts_with("sources")),
        "serde names"
    );
}

#[test]
fn the_example_config_shows_every_key_the_schema_accepts() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hcc-monitor.example.toml");
    let text = std::fs::read_to_string(&path).expect("the example config exists");
    let example = toml::Value::Table(toml::from_str(&text).expect("the example is TOML"));
    // A key without a default that can be set (a secret's file, TLS files, a second way to
    // give the same value) is shown commented out: `# key = ...`.
    let commented = |leaf: &str| {
        text.lines()
            .filter_map(|l| l.trim_start().strip_prefix('#'))
            .map(str::trim_start)
            .any(|l| {
                l.starts_with(&format!("{leaf} ="))
                    || l.contains(&format!("{{ {leaf} ="))
                    || l.contains(&format!(", {leaf} ="))
            })
    };
    let missing: Vec<String> = schema_keys()
        .into_iter()
        .filter(|key| {
            let path: Vec<&str> = key.split('.').collect();
            // A commented-out map (`# headers = { ... }`) shows its entries too.
            let leaf = path.iter().rev().find(|s| **s != "*").copied();
            !set_in(&example, &path) && !leaf.is_some_and(commented)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "keys missing from the example config: {missing:?}"
    );
}
