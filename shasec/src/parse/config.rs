//! Configuration files (TOML, YAML) flattened into settings with dotted paths and lines, so the
//! secret, CORS and geo-IP rules read every format the same way.

use toml_edit::{Item, Value};

use super::yaml::{Node, NodeKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Key path from the root, e.g. `["auth", "jwt_secret"]`.
    pub path: Vec<String>,
    /// Scalar value as text (`true`, `42`, the string itself).
    pub value: String,
    pub line: u32,
    /// The value was a string (quoted in YAML or a TOML string), not a number or boolean.
    pub is_string: bool,
}

impl Setting {
    /// The last key, the one whose name says what the value is.
    pub fn name(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }

    pub fn dotted(&self) -> String {
        self.path.join(".")
    }
}

/// Byte offset → 1-based line.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(index, _)| index + 1))
            .collect();
        LineIndex { starts }
    }

    pub fn line(&self, offset: usize) -> u32 {
        let line = self.starts.partition_point(|start| *start <= offset);
        u32::try_from(line).unwrap_or(u32::MAX).max(1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ConfigError {
    pub line: u32,
    pub message: String,
}

pub fn from_toml(text: &str) -> Result<Vec<Setting>, ConfigError> {
    let lines = LineIndex::new(text);
    let document = toml_edit::Document::parse(text).map_err(|error| ConfigError {
        line: error.span().map_or(1, |span| lines.line(span.start)),
        message: error.message().trim().to_owned(),
    })?;
    let mut settings = Vec::new();
    let root = document.as_table();
    for (name, _) in root.iter() {
        if let Some((key, item)) = root.get_key_value(name) {
            let line = key.span().map_or(1, |span| lines.line(span.start));
            toml_item(&mut settings, &lines, vec![name.to_owned()], item, line);
        }
    }
    Ok(settings)
}

fn toml_item(out: &mut Vec<Setting>, lines: &LineIndex, path: Vec<String>, item: &Item, line: u32) {
    match item {
        Item::None => {}
        Item::Value(value) => toml_value(out, lines, path, value, line),
        Item::Table(table) => {
            for (name, _) in table.iter() {
                if let Some((key, child)) = table.get_key_value(name) {
                    let line = key.span().map_or(line, |span| lines.line(span.start));
                    toml_item(out, lines, extend(&path, name), child, line);
                }
            }
        }
        Item::ArrayOfTables(array) => {
            for table in array.iter() {
                let line = table.span().map_or(line, |span| lines.line(span.start));
                toml_item(out, lines, path.clone(), &Item::Table(table.clone()), line);
            }
        }
    }
}

fn toml_value(
    out: &mut Vec<Setting>,
    lines: &LineIndex,
    path: Vec<String>,
    value: &Value,
    line: u32,
) {
    let line = value.span().map_or(line, |span| lines.line(span.start));
    match value {
        Value::String(text) => out.push(Setting {
            path,
            value: text.value().clone(),
            line,
            is_string: true,
        }),
        Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::Datetime(_) => {
            let text = value.to_string();
            out.push(Setting {
                path,
                value: text.trim().to_owned(),
                line,
                is_string: false,
            });
        }
        Value::Array(array) => {
            for element in array.iter() {
                toml_value(out, lines, path.clone(), element, line);
            }
        }
        Value::InlineTable(table) => {
            for (name, _) in table.iter() {
                if let Some((key, Item::Value(child))) = table.get_key_value(name) {
                    let line = key.span().map_or(line, |span| lines.line(span.start));
                    toml_value(out, lines, extend(&path, name), child, line);
                }
            }
        }
    }
}

fn extend(path: &[String], name: &str) -> Vec<String> {
    let mut path = path.to_vec();
    path.push(name.to_owned());
    path
}

/// Every scalar leaf of the YAML documents. Kubernetes-style `- name: X\n  value: Y` pairs are
/// read as a setting named X.
pub fn from_yaml(documents: &[Node]) -> Vec<Setting> {
    let mut settings = Vec::new();
    for document in documents {
        yaml_node(&mut settings, Vec::new(), document, 0);
    }
    settings
}

fn yaml_node(out: &mut Vec<Setting>, path: Vec<String>, node: &Node, depth: usize) {
    if depth > 64 {
        return;
    }
    match &node.kind {
        NodeKind::Scalar { text, plain } => {
            if !path.is_empty() && !node.is_null() {
                out.push(Setting {
                    path,
                    value: text.clone(),
                    line: node.line,
                    is_string: !plain || !looks_typed(text),
                });
            }
        }
        NodeKind::Sequence(items) => {
            for item in items {
                yaml_node(out, path.clone(), item, depth + 1);
            }
        }
        NodeKind::Mapping(entries) => {
            if let (Some(name), Some(value)) =
                (node.get("name").and_then(Node::as_str), node.get("value"))
            {
                if value.as_str().is_some() && entries.len() <= 3 {
                    yaml_node(out, extend(&path, name), value, depth + 1);
                    return;
                }
            }
            for (key, value) in entries {
                if let Some(name) = key.as_str() {
                    let line = key.line;
                    let child = extend(&path, name);
                    match &value.kind {
                        // Report a scalar on its key's line (a block scalar starts below it).
                        NodeKind::Scalar { .. } => {
                            let mut value = value.clone();
                            value.line = line;
                            yaml_node(out, child, &value, depth + 1);
                        }
                        _ => yaml_node(out, child, value, depth + 1),
                    }
                }
            }
        }
    }
}

fn looks_typed(text: &str) -> bool {
    text.parse::<f64>().is_ok()
        || matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off"
        )
}

/// Java `.properties`: `key=value`, `key: value` or `key value` per line, `#`/`!` comments,
/// a trailing `\` continuing the value; keys split on `.` like the other formats' paths.
pub fn from_properties(text: &str) -> Vec<Setting> {
    let mut settings = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let split = trimmed
            .find(['=', ':'])
            .map(|at| (&trimmed[..at], &trimmed[at + 1..]))
            .or_else(|| trimmed.split_once(char::is_whitespace));
        let (key, value) = split.unwrap_or((trimmed, ""));
        let mut value = value.trim().to_owned();
        while value.ends_with('\\') {
            value.pop();
            match lines.next() {
                Some((_, next)) => value.push_str(next.trim()),
                None => break,
            }
        }
        settings.push(Setting {
            path: key.trim().split('.').map(str::to_owned).collect(),
            value,
            line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            is_string: true,
        });
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::yaml;

    #[test]
    fn toml_settings_have_paths_and_lines() {
        let settings = from_toml("title = \"x\"\n\n[auth]\njwt_secret = \"changeme\"\nports = [1, 2]\ninline = { key = \"v\" }\n[[users]]\npassword = \"p\"\n").unwrap();
        let find = |dotted: &str| settings.iter().find(|s| s.dotted() == dotted).unwrap();
        assert_eq!(find("auth.jwt_secret").line, 4);
        assert_eq!(find("auth.inline.key").line, 6);
        assert_eq!(find("users.password").line, 8);
        assert!(!find("auth.ports").is_string);
    }

    #[test]
    fn toml_errors_carry_a_line() {
        let error = from_toml("a = 1\nb = \n").unwrap_err();
        assert_eq!(error.line, 2, "{error}");
    }

    #[test]
    fn yaml_settings_read_kubernetes_env_lists() {
        let docs =
            yaml::parse("env:\n  - name: JWT_SECRET\n    value: secret\napp:\n  debug: true\n")
                .unwrap();
        let settings = from_yaml(&docs);
        assert_eq!(settings[0].path, ["env", "JWT_SECRET"]);
        assert_eq!(settings[0].line, 3);
        assert!(!settings[1].is_string);
    }
}
