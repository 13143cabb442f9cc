//! The README's settings table documents every setting: adding a field to `Settings` without a
//! row (default, production requirement, meaning) fails here.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

// The application crate, in its own group (see tests/common/mod.rs).
use {{crate_name}}::config::Settings;

/// A deserializer that only records the field names serde asks for, then stops.
struct FieldNames<'a> {
    found: &'a mut &'static [&'static str],
}

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.found = fields;
        Err(de::Error::custom("field names recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

fn setting_names() -> Vec<String> {
    let mut fields: &'static [&'static str] = &[];
    let _ = Settings::deserialize(FieldNames { found: &mut fields });
    fields.iter().map(|f| f.to_ascii_uppercase()).collect()
}

#[test]
fn every_setting_has_a_row_in_the_readme_table() {
    let names = setting_names();
    assert!(names.len() > 10, "introspection found only {names:?}");
    let readme = include_str!("../README.md");
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| {
            let cell = format!("| `{name}` |");
            !readme.lines().any(|line| line.starts_with(&cell))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "README.md has no settings-table row for {missing:?}"
    );
}

/// The rows of the README's settings table, by setting name (a row may name several).
fn table_rows() -> Vec<String> {
    let readme = include_str!("../README.md");
    readme
        .lines()
        .skip_while(|line| !line.starts_with("| Setting |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .flat_map(|line| {
            let first_cell = line.split('|').nth(1).unwrap_or_default().to_owned();
            first_cell
                .split('/')
                .map(|name| name.trim().trim_matches('`').to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Read by the binary before `Settings` exist (it says where they come from).
const NOT_IN_SETTINGS: &[&str] = &["CONFIG_FILE"];

#[test]
fn the_settings_table_names_each_setting_once_and_nothing_else() {
    let names = setting_names();
    let rows = table_rows();
    let mut seen = std::collections::BTreeSet::new();
    for row in &rows {
        assert!(seen.insert(row.as_str()), "README lists `{row}` twice");
        assert!(
            names.contains(row) || NOT_IN_SETTINGS.contains(&row.as_str()),
            "README lists `{row}`, which is not a setting"
        );
    }
}

#[test]
fn the_env_example_shows_each_setting_exactly_once() {
    let example = include_str!("../.env.example");
    for name in setting_names() {
        let assignment = format!("{name}=");
        let count = example
            .lines()
            .map(|line| line.trim_start_matches('#').trim_start())
            .filter(|line| line.starts_with(&assignment))
            .count();
        assert_eq!(count, 1, ".env.example shows {name} {count} times");
    }
}
