//! JSON the way the proxy reads it: request bodies kept as bytes, read one
//! level at a time without building a tree, so memory stays a small multiple
//! of the body whatever its shape (docs/security.md, "Memory is bounded").
//!
//! - [`Json`]: one value of a body, borrowed; [`Json::object`] and
//!   [`Json::array`] parse a single level, leaving everything below unparsed.
//! - [`body::JsonBody`]: a request body whose `model` can be rewritten without
//!   touching any other byte.

pub mod body;

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// `value` as compact JSON bytes, for a body the proxy builds itself (a
/// translated request, a report). Its maps have string keys, so serializing
/// cannot fail.
pub fn to_bytes(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// [`to_bytes`] into a buffer of `capacity` bytes, for a big body whose
/// length is about known: a buffer that doubles as it grows holds up to three
/// times the body at its last step.
pub fn to_bytes_within(value: &impl serde::Serialize, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut out, value) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

/// The message or text of a JSON string for a user: a JSON-quoted string, so
/// messages never show Rust's debug formatting.
pub fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// One JSON value, borrowed from the text it was read from; nothing below it
/// is parsed until asked for.
#[derive(Clone, Copy)]
pub struct Json<'a>(&'a RawValue);

impl fmt::Debug for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.get())
    }
}

impl<'a> Json<'a> {
    /// Checks `text` is one JSON value (with the parser's depth limit).
    pub fn parse(text: &'a str) -> Result<Json<'a>, String> {
        serde_json::from_str::<&RawValue>(text).map(Json).map_err(|e| e.to_string())
    }

    /// The value's JSON text, as sent.
    pub fn text(self) -> &'a str {
        self.0.get()
    }

    pub fn raw(self) -> &'a RawValue {
        self.0
    }

    fn first(self) -> u8 {
        self.0.get().as_bytes().first().copied().unwrap_or(b'n')
    }

    pub fn is_null(self) -> bool {
        self.0.get() == "null"
    }

    pub fn is_string(self) -> bool {
        self.first() == b'"'
    }

    pub fn is_number(self) -> bool {
        matches!(self.first(), b'-' | b'0'..=b'9')
    }

    pub fn is_object(self) -> bool {
        self.first() == b'{'
    }

    pub fn is_array(self) -> bool {
        self.first() == b'['
    }

    pub fn as_bool(self) -> Option<bool> {
        match self.0.get() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// A string, borrowed when it holds no escape.
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        let text = self.0.get();
        if !self.is_string() {
            return None;
        }
        // The text was checked as one JSON string: without a backslash, its
        // contents are the characters between the quotes.
        match text.contains('\\') {
            false => text.get(1..text.len() - 1).map(Cow::Borrowed),
            true => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
        }
    }

    /// A non-negative integer.
    pub fn as_u64(self) -> Option<u64> {
        self.0.get().parse().ok()
    }

    /// One level of an object: its keys and their values, unparsed.
    pub fn object(self) -> Option<Object<'a>> {
        if !self.is_object() {
            return None;
        }
        serde_json::from_str::<Object<'a>>(self.0.get()).ok()
    }

    /// One level of an array: its items, unparsed.
    pub fn array(self) -> Option<Vec<Json<'a>>> {
        if !self.is_array() {
            return None;
        }
        let items = serde_json::from_str::<Vec<&'a RawValue>>(self.0.get()).ok()?;
        Some(items.into_iter().map(Json).collect())
    }

    /// The value as a `serde_json::Value` tree, for the small parts the
    /// proxy rebuilds (a schema it edits, a value it echoes).
    pub fn to_value(self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or_default()
    }
}

/// One level of a JSON object. A key given twice counts once, its last value
/// (as `JSON.parse` reads it).
#[derive(Debug, Default)]
pub struct Object<'a>(Vec<(Cow<'a, str>, Json<'a>)>);

impl<'a> Object<'a> {
    /// The value of `key`, unless absent or `null`.
    pub fn get(&self, key: &str) -> Option<Json<'a>> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v).filter(|v| !v.is_null())
    }

    /// `true` when `key` is present and not `null`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.get(key).and_then(Json::as_str)
    }

    pub fn u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Json::as_u64)
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Json::as_bool)
    }

    pub fn object(&self, key: &str) -> Option<Object<'a>> {
        self.get(key).and_then(Json::object)
    }

    pub fn array(&self, key: &str) -> Option<Vec<Json<'a>>> {
        self.get(key).and_then(Json::array)
    }

    /// The `type` field, for tagged objects.
    pub fn kind(&self) -> Option<Cow<'a, str>> {
        self.str("type")
    }

    /// Every key and value, in the order sent (a repeated key more than once).
    pub fn entries(&self) -> impl Iterator<Item = (&str, Json<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), *v))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Object<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Entries<'a> {
            type Value = Object<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Object<'a>, M::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some((Key(key), value)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    entries.push((key, Json(value)));
                }
                Ok(Object(entries))
            }
        }
        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

/// An object key, borrowed from the text when it holds no escape.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Text<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(Text(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_level_at_a_time() {
        let text = r#"{"a": [1, {"b": "x\"y"}], "n": 7, "s": "plain", "z": null, "a": "last"}"#;
        let root = Json::parse(text).unwrap().object().unwrap();
        assert_eq!(root.str("a").as_deref(), Some("last"), "the last of a repeated key counts");
        assert_eq!(root.u64("n"), Some(7));
        assert!(matches!(root.str("s"), Some(Cow::Borrowed("plain"))), "borrowed without escapes");
        assert!(root.0.iter().all(|(k, _)| matches!(k, Cow::Borrowed(_))), "keys borrowed");
        assert!(root.get("z").is_none() && !root.has("z"), "null is absent");
        let first = root.entries().next().unwrap().1.array().unwrap();
        assert_eq!(first[1].object().unwrap().str("b").as_deref(), Some("x\"y"));
        assert_eq!(first[0].text(), "1");
        assert!(first[0].is_number() && first[0].object().is_none() && first[0].as_str().is_none());
        assert!(Json::parse("{").is_err() && Json::parse("[] x").is_err());
    }
}
