//! A Compose file as a tree that remembers where every key and value is (1-based line and
//! column), read with saphyr: anchors and aliases resolved (with saphyr's node budget against
//! "billion laughs"), YAML merge keys (`<<: *base`) applied as Compose does, scalars kept as
//! written (`1.10` stays `1.10`) except the YAML 1.2 core schema's plain `null`/`~`/empty and
//! `true`/`false`.

use saphyr::{MarkedYaml, ScalarStyle, YamlData, YamlLoader};
use saphyr_parser::Parser;

/// 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// A string or a number, as written (quotes removed).
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    /// What the user would call this kind of value, for "expected X, found Y".
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }
}

/// A YAML syntax error (or a structure Compose cannot hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub msg: String,
}

/// Deeper than this is refused (the conversion recurses).
const MAX_DEPTH: usize = 128;

/// Parse a Compose file: one YAML document whose top level is a mapping (an empty file is an
/// empty mapping).
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut loader: YamlLoader<'_, MarkedYaml<'_>> = YamlLoader::default();
    loader.early_parse(false);
    let mut parser = Parser::new_from_str(text);
    let scan = |e: &saphyr::ScanError| YamlError {
        pos: Pos {
            line: e.marker().line(),
            col: e.marker().col() + 1,
        },
        msg: e.info().to_string(),
    };
    parser.load(&mut loader, true).map_err(|e| scan(&e))?;
    if let Some(e) = loader.error() {
        return Err(scan(e));
    }
    let docs = loader.into_documents();
    let real: Vec<&MarkedYaml> = docs.iter().filter(|d| !d.data.is_badvalue()).collect();
    match real.as_slice() {
        [] => Ok(Node {
            pos: Pos { line: 1, col: 1 },
            value: Value::Map(Vec::new()),
        }),
        [doc] => {
            let node = convert(doc, 0)?;
            match node.value {
                Value::Map(_) => Ok(node),
                Value::Null => Ok(Node {
                    pos: node.pos,
                    value: Value::Map(Vec::new()),
                }),
                _ => Err(YamlError {
                    pos: node.pos,
                    msg: format!("expected a mapping at the top level, found {}", node.kind()),
                }),
            }
        }
        [_, second, ..] => Err(YamlError {
            pos: pos(second),
            msg: "several YAML documents in one file (a Compose file holds one)".into(),
        }),
    }
}

fn pos(n: &MarkedYaml) -> Pos {
    Pos {
        line: n.span.start.line(),
        col: n.span.start.col() + 1,
    }
}

fn convert(n: &MarkedYaml, depth: usize) -> Result<Node, YamlError> {
    let at = pos(n);
    if depth > MAX_DEPTH {
        return Err(YamlError {
            pos: at,
            msg: format!("nested deeper than {MAX_DEPTH} levels"),
        });
    }
    let value = match &n.data {
        YamlData::Representation(text, style, _tag) => scalar(text, *style),
        // Not produced without early parsing; kept total all the same.
        YamlData::Value(s) => match s {
            saphyr::Scalar::Null => Value::Null,
            saphyr::Scalar::Boolean(b) => Value::Bool(*b),
            saphyr::Scalar::Integer(i) => Value::Str(i.to_string()),
            saphyr::Scalar::FloatingPoint(f) => Value::Str(f.to_string()),
            saphyr::Scalar::String(s) => Value::Str(s.to_string()),
        },
        YamlData::Sequence(items) => Value::Seq(
            items
                .iter()
                .map(|i| convert(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        YamlData::Mapping(map) => {
            let mut own: Vec<Entry> = Vec::new();
            let mut merged: Vec<Entry> = Vec::new();
            for (k, v) in map.iter() {
                let key_pos = pos(k);
                let key = match &k.data {
                    YamlData::Representation(t, ScalarStyle::Plain, _) if t == "<<" => {
                        // A merge key: the keys of the mapping(s) it names, unless set here;
                        // with a list, an earlier mapping wins over a later one.
                        let sources: Vec<&MarkedYaml> = match &v.data {
                            YamlData::Mapping(_) => vec![v],
                            YamlData::Sequence(items) => items.iter().collect(),
                            _ => {
                                return Err(YamlError {
                                    pos: pos(v),
                                    msg: "a merge key (<<) takes a mapping or a list of mappings"
                                        .into(),
                                })
                            }
                        };
                        for s in sources {
                            let node = convert(s, depth + 1)?;
                            let Value::Map(entries) = node.value else {
                                return Err(YamlError {
                                    pos: node.pos,
                                    msg: "a merge key (<<) takes a mapping or a list of mappings"
                                        .into(),
                                });
                            };
                            for e in entries {
                                if !merged.iter().any(|m| m.key == e.key) {
                                    merged.push(e);
                                }
                            }
                        }
                        continue;
                    }
                    YamlData::Representation(t, _, _) => t.to_string(),
                    YamlData::Tagged(_, inner) => match &inner.data {
                        YamlData::Representation(t, _, _) => t.to_string(),
                        _ => return Err(non_scalar_key(key_pos)),
                    },
                    _ => return Err(non_scalar_key(key_pos)),
                };
                own.push(Entry {
                    key,
                    key_pos,
                    value: convert(v, depth + 1)?,
                });
            }
            for m in merged {
                if !own.iter().any(|e| e.key == m.key) {
                    own.push(m);
                }
            }
            Value::Map(own)
        }
        YamlData::Tagged(tag, inner) => {
            // Compose's own tags: `!reset` empties a value, `!override` replaces it (both matter
            // when files are merged; in one file they are the value itself).
            if tag.handle == "!" && tag.suffix == "reset" {
                Value::Null
            } else {
                return convert(inner, depth + 1).map(|mut c| {
                    c.pos = at;
                    c
                });
            }
        }
        YamlData::Alias(_) | YamlData::BadValue => {
            return Err(YamlError {
                pos: at,
                msg: "unknown alias or invalid value".into(),
            })
        }
    };
    Ok(Node { pos: at, value })
}

fn non_scalar_key(pos: Pos) -> YamlError {
    YamlError {
        pos,
        msg: "a mapping key must be a plain value, not a list or a mapping".into(),
    }
}

/// The YAML 1.2 core schema for plain scalars: null and booleans; everything else is text.
fn scalar(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::Str(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => Value::Str(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Node {
        parse(text).unwrap()
    }

    #[test]
    fn positions_of_keys_and_values() {
        let n = p("services:\n  web:\n    image: nginx\n    ports:\n      - \"8080:80\"\n");
        let web = n.get("services").unwrap().get("web").unwrap();
        let e = &web.entries().unwrap()[1];
        assert_eq!(e.key, "ports");
        assert_eq!(e.key_pos, Pos { line: 4, col: 5 });
        let Value::Seq(items) = &e.value.value else {
            panic!()
        };
        assert_eq!(items[0].pos, Pos { line: 5, col: 9 });
        assert_eq!(items[0].value, Value::Str("8080:80".into()));
    }

    #[test]
    fn scalars_stay_as_written() {
        let n = p("a: 1.10\nb: 010\nc: ~\nd:\ne: true\nf: 'true'\ng: yes\nh: 0x1F\n");
        let v = |k: &str| n.get(k).unwrap().value.clone();
        assert_eq!(v("a"), Value::Str("1.10".into()));
        assert_eq!(v("b"), Value::Str("010".into()));
        assert_eq!(v("c"), Value::Null);
        assert_eq!(v("d"), Value::Null);
        assert_eq!(v("e"), Value::Bool(true));
        assert_eq!(v("f"), Value::Str("true".into()));
        assert_eq!(v("g"), Value::Str("yes".into()), "YAML 1.2: yes is text");
        assert_eq!(v("h"), Value::Str("0x1F".into()));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let text = "\
x-common: &common
  restart: always
  environment:
    A: '1'
x-more: &more
  restart: 'no'
  logging: {driver: json-file}
services:
  web:
    <<: [*common, *more]
    image: nginx
  db:
    <<: *common
    restart: on-failure
";
        let n = p(text);
        let web = n.get("services").unwrap().get("web").unwrap();
        let keys: Vec<&str> = web
            .entries()
            .unwrap()
            .iter()
            .map(|e| e.key.as_str())
            .collect();
        assert_eq!(keys, vec!["image", "restart", "environment", "logging"]);
        assert_eq!(
            web.get("restart").unwrap().value,
            Value::Str("always".into())
        );
        // a merged key points where it is written (in the anchor)
        let restart = web
            .entries()
            .unwrap()
            .iter()
            .find(|e| e.key == "restart")
            .unwrap();
        assert_eq!(restart.key_pos, Pos { line: 2, col: 3 });
        let db = n.get("services").unwrap().get("db").unwrap();
        assert_eq!(
            db.get("restart").unwrap().value,
            Value::Str("on-failure".into())
        );
    }

    #[test]
    fn errors_are_located() {
        let e = parse("services:\n  web:\n    image: [nginx\n").unwrap_err();
        assert_eq!(e.pos.line, 4);
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(e.msg, "duplicated key in mapping");
        assert_eq!(e.pos, Pos { line: 2, col: 1 });
        let e = parse("- a\n- b\n").unwrap_err();
        assert_eq!(e.msg, "expected a mapping at the top level, found a list");
        let e = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(e.pos.line, 3);
        let e = parse("a: *nope\n").unwrap_err();
        assert!(!e.msg.is_empty());
        assert_eq!(p("").value, Value::Map(Vec::new()));
        assert_eq!(p("# only a comment\n").value, Value::Map(Vec::new()));
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            bomb.push_str(&format!(
                "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(parse(&bomb).is_err());
        let deep = format!("a: {}{}\n", "[".repeat(500), "]".repeat(500));
        assert!(parse(&deep).is_err());
    }
}
