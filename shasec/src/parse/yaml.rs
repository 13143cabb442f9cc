//! YAML into a small tree with line numbers, on top of saphyr-parser's event stream.
//!
//! Our own receiver (rather than saphyr's loader) because we need three things it does not do:
//! merge keys (`<<: *defaults`, common in compose files), tags kept on every node (`!reset`,
//! `!override`), and a budget on alias expansion so a "billion laughs" file cannot exhaust memory.

use saphyr_parser::{Event, Parser, ScalarStyle, Span, SpannedEventReceiver};

/// Alias expansion beyond this many nodes is refused (a real compose file has a few hundred).
const NODE_BUDGET: usize = 1_000_000;
/// Nesting beyond this is refused: deep trees would overflow the stack when dropped.
const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based line where the node starts.
    pub line: u32,
    /// Application tag such as `!reset`, if any.
    pub tag: Option<String>,
    pub kind: NodeKind,
    size: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// Every scalar keeps its source text; `plain` is false for quoted scalars.
    Scalar {
        text: String,
        plain: bool,
    },
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct YamlError {
    pub line: u32,
    pub message: String,
}

impl Node {
    fn new(line: u32, tag: Option<String>, kind: NodeKind) -> Self {
        let size = 1 + match &kind {
            NodeKind::Scalar { .. } => 0,
            NodeKind::Sequence(items) => items.iter().map(|item| item.size).sum(),
            NodeKind::Mapping(entries) => entries.iter().map(|(k, v)| k.size + v.size).sum(),
        };
        Node {
            line,
            tag,
            kind,
            size,
        }
    }

    /// Scalar text (quoted or not); `None` for collections.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// An unquoted `~`, `null` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// Booleans as compose reads them (YAML 1.2 core plus the 1.1 spellings compose still accepts).
    pub fn as_bool(&self) -> Option<bool> {
        match self.as_str()?.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "y" => Some(true),
            "false" | "no" | "off" | "n" => Some(false),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            NodeKind::Mapping(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.kind {
            NodeKind::Sequence(items) => items,
            _ => &[],
        }
    }

    pub fn is_mapping(&self) -> bool {
        matches!(self.kind, NodeKind::Mapping(_))
    }

    pub fn is_sequence(&self) -> bool {
        matches!(self.kind, NodeKind::Sequence(_))
    }

    /// The value under `key` in a mapping (the last one when a key is repeated).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.get_entry(key).map(|(_, value)| value)
    }

    /// Key node and value under `key`, for the key's line.
    pub fn get_entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.entries()
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }
}

enum Frame {
    Sequence {
        line: u32,
        tag: Option<String>,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        line: u32,
        tag: Option<String>,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

#[derive(Default)]
struct TreeBuilder {
    documents: Vec<Node>,
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Node>,
    expanded: usize,
    error: Option<YamlError>,
}

fn line_of(span: &Span) -> u32 {
    u32::try_from(span.start.line()).unwrap_or(u32::MAX).max(1)
}

fn tag_text(tag: Option<&saphyr_parser::Tag>) -> Option<String> {
    tag.filter(|tag| !tag.is_yaml_core_schema())
        .map(|tag| format!("{}{}", tag.handle, tag.suffix))
}

/// Applies merge keys: explicit entries win over merged ones, earlier merge sources over later.
fn resolve_merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let is_merge =
        |key: &Node| matches!(&key.kind, NodeKind::Scalar { text, plain: true } if text == "<<");
    if !entries.iter().any(|(key, _)| is_merge(key)) {
        return entries;
    }
    let mut explicit = Vec::new();
    let mut sources = Vec::new();
    for (key, value) in entries {
        if is_merge(&key) {
            match value.kind {
                NodeKind::Mapping(_) => sources.push(value),
                NodeKind::Sequence(items) => {
                    sources.extend(items.into_iter().filter(Node::is_mapping))
                }
                NodeKind::Scalar { .. } => {}
            }
        } else {
            explicit.push((key, value));
        }
    }
    for source in sources {
        if let NodeKind::Mapping(merged) = source.kind {
            for (key, value) in merged {
                if !explicit.iter().any(|(existing, _)| {
                    existing.as_str().is_some() && existing.as_str() == key.as_str()
                }) {
                    explicit.push((key, value));
                }
            }
        }
    }
    explicit
}

impl TreeBuilder {
    fn fail(&mut self, line: u32, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line,
                message: message.into(),
            });
        }
    }

    fn push_frame(&mut self, frame: Frame, line: u32) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(line, format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        self.stack.push(frame);
    }

    fn insert(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

impl<'input> SpannedEventReceiver<'input> for TreeBuilder {
    fn on_event(&mut self, event: Event<'input>, span: Span) {
        if self.error.is_some() {
            return;
        }
        let line = line_of(&span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == ScalarStyle::Plain;
                let node = Node::new(
                    line,
                    tag_text(tag.as_deref()),
                    NodeKind::Scalar {
                        text: text.into_owned(),
                        plain,
                    },
                );
                self.insert(node, anchor);
            }
            Event::SequenceStart(anchor, tag) => {
                let frame = Frame::Sequence {
                    line,
                    tag: tag_text(tag.as_deref()),
                    anchor,
                    items: Vec::new(),
                };
                self.push_frame(frame, line);
            }
            Event::MappingStart(anchor, tag) => {
                let frame = Frame::Mapping {
                    line,
                    tag: tag_text(tag.as_deref()),
                    anchor,
                    entries: Vec::new(),
                    key: None,
                };
                self.push_frame(frame, line);
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Sequence {
                    line,
                    tag,
                    anchor,
                    items,
                }) => {
                    self.insert(Node::new(line, tag, NodeKind::Sequence(items)), anchor);
                }
                Some(Frame::Mapping {
                    line,
                    tag,
                    anchor,
                    entries,
                    ..
                }) => {
                    let entries = resolve_merge_keys(entries);
                    self.insert(Node::new(line, tag, NodeKind::Mapping(entries)), anchor);
                }
                None => self.fail(line, "unbalanced collection end"),
            },
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some(node) => {
                    self.expanded = self.expanded.saturating_add(node.size);
                    if self.expanded > NODE_BUDGET {
                        self.fail(line, "aliases expand to more than a million nodes");
                        return;
                    }
                    let node = node.clone();
                    self.insert(node, 0);
                }
                None => self.fail(line, "alias to an unknown anchor"),
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
    }
}

/// Every document in `text`. An empty file is zero documents.
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(error) = parser.load(&mut builder, true) {
        let marker = error.marker();
        return Err(YamlError {
            line: u32::try_from(marker.line()).unwrap_or(u32::MAX).max(1),
            message: error.info().to_owned(),
        });
    }
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based_and_scalars_keep_their_text() {
        let docs = parse("a: 1\nb:\n  - x\n  - 'y'\n").unwrap();
        let root = &docs[0];
        let (key, value) = root.get_entry("b").unwrap();
        assert_eq!(key.line, 2);
        assert_eq!(value.items()[1].line, 4);
        assert_eq!(
            value.items()[1].kind,
            NodeKind::Scalar {
                text: "y".into(),
                plain: false
            }
        );
        assert_eq!(root.get("a").and_then(Node::as_str), Some("1"));
    }

    #[test]
    fn merge_keys_fill_in_without_overriding() {
        let docs = parse("base: &b {x: 1, y: 2}\nsvc:\n  <<: *b\n  y: 3\n").unwrap();
        let svc = docs[0].get("svc").unwrap();
        assert_eq!(svc.get("x").and_then(Node::as_str), Some("1"));
        assert_eq!(svc.get("y").and_then(Node::as_str), Some("3"));
        assert!(svc.get("<<").is_none());
    }

    #[test]
    fn application_tags_are_kept() {
        let docs = parse("ports: !reset []\n").unwrap();
        assert_eq!(docs[0].get("ports").unwrap().tag.as_deref(), Some("!reset"));
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let refs = vec![format!("*a{}", level - 1); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        let error = parse(&text).unwrap_err();
        assert!(error.message.contains("million"), "{error}");
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        let error = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(error.line >= 2, "{error}");
    }
}
