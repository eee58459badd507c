//! The whaleware configuration: `/ww/etc/defaults.json` deep-merged with the JSON in `CFG`,
//! written to `/ww/etc/cfg.json`, read back with `dops-init cfg path.to.key` (or `/ww/cfg key`).
//!
//! Merge rules (those of JSON Merge Patch, RFC 7396): objects merge key by key, recursively; a
//! `null` in the patch deletes the key; any other value (string, number, bool, array) replaces
//! the old one whole: arrays are never concatenated or merged element by element.
use super::error::InitError;
use super::paths::Paths;
use serde_json::{Map, Value};
use std::path::Path;

/// Deep-merge `patch` into `target` (RFC 7396).
pub fn merge(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.shift_remove(&k);
                    } else {
                        merge(t.entry(k).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other,
    }
}

/// Parse JSON text, turning errors into `BadJson` with the file and the position.
pub fn parse_file(path: &Path) -> Result<Option<Value>, InitError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(InitError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| InitError::BadJson {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            msg: strip_position(&e),
        })
}

/// The value of `CFG` (empty or unset: nothing to merge).
pub fn parse_cfg(cfg: Option<&str>) -> Result<Option<Value>, InitError> {
    let Some(text) = cfg.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| InitError::BadCfg {
            line: e.line(),
            column: e.column(),
            msg: strip_position(&e),
        })
}

fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Compute the configuration and write `/ww/etc/cfg.json`; returns the merged value.
/// `/ww/cfg` becomes a link to the running dops-init so scripts can call `/ww/cfg key`.
pub fn build(paths: &Paths, cfg_env: Option<&str>) -> Result<Value, InitError> {
    let defaults = parse_file(&paths.defaults_json())?;
    let patch = parse_cfg(cfg_env)?;
    let has_input = defaults.is_some() || patch.is_some();
    let mut merged = defaults.unwrap_or_else(|| Value::Object(Map::new()));
    if let Some(p) = patch {
        merge(&mut merged, p);
    }
    let mut text = serde_json::to_string_pretty(&merged).unwrap_or_default();
    text.push('\n');
    let out = paths.cfg_json();
    if std::fs::read_to_string(&out).ok().as_deref() == Some(text.as_str()) {
        link_cfg_tool(paths);
        return Ok(merged);
    }
    let written = out
        .parent()
        .map(std::fs::create_dir_all)
        .unwrap_or(Ok(()))
        .and_then(|_| super::state::write_atomic(&out, text.as_bytes()));
    match written {
        Ok(()) => link_cfg_tool(paths),
        // A read-only image with no whaleware configuration at all is not an error.
        Err(_) if !has_input => {}
        Err(source) => return Err(InitError::Write { path: out, source }),
    }
    Ok(merged)
}

fn link_cfg_tool(paths: &Paths) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let link = paths.cfg_link();
    match std::fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => {
            if std::fs::read_link(&link).ok().as_deref() == Some(exe.as_path()) {
                return;
            }
            let _ = std::fs::remove_file(&link);
        }
        // A whaleware image may ship its own /ww/cfg script: leave it alone.
        Ok(_) => return,
        Err(_) => {}
    }
    let _ = std::os::unix::fs::symlink(&exe, &link);
}

/// Look up `a.b.0.c` in a value: object keys, array indices; the empty path is the whole value.
pub fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        cur = match cur {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// How `dops-init cfg` prints a value: strings raw, everything else as JSON.
pub fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => serde_json::to_string_pretty(v).unwrap_or_default(),
        other => other.to_string(),
    }
}

/// `dops-init cfg [path.to.key]`.
pub fn cmd(paths: &Paths, key: Option<&str>) -> Result<String, InitError> {
    let path = paths.cfg_json();
    let v = parse_file(&path)?.ok_or_else(|| InitError::Read {
        path: path.clone(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no configuration yet (hint: dops-init writes it at start)",
        ),
    })?;
    let key = key.unwrap_or("");
    get(&v, key).map(render).ok_or(InitError::NoKey {
        key: key.to_string(),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(a: Value, b: Value) -> Value {
        let mut a = a;
        merge(&mut a, b);
        a
    }

    #[test]
    fn objects_merge_recursively() {
        let d = json!({"db": {"host": "localhost", "port": 5432}, "memory": 200});
        let c = json!({"db": {"port": 6543}, "debug": true});
        assert_eq!(
            merged(d, c),
            json!({"db": {"host": "localhost", "port": 6543}, "memory": 200, "debug": true})
        );
    }

    #[test]
    fn arrays_are_replaced_whole() {
        let d = json!({"peers": ["a", "b", "c"], "x": {"list": [1, 2]}});
        let c = json!({"peers": ["z"], "x": {"list": []}});
        assert_eq!(merged(d, c), json!({"peers": ["z"], "x": {"list": []}}));
    }

    #[test]
    fn null_deletes_and_keeps_order() {
        let d = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 4});
        let c = json!({"a": null, "b": {"c": null}, "missing": null});
        let m = merged(d, c);
        assert_eq!(m, json!({"b": {"d": 3}, "e": 4}));
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"b":{"d":3},"e":4}"#,
            "key order of the defaults is kept"
        );
    }

    #[test]
    fn scalars_and_types_replace() {
        assert_eq!(
            merged(json!({"a": {"b": 1}}), json!({"a": 5})),
            json!({"a": 5})
        );
        assert_eq!(
            merged(json!({"a": 5}), json!({"a": {"b": 1}})),
            json!({"a": {"b": 1}})
        );
        assert_eq!(merged(json!([1, 2]), json!({"a": 1})), json!({"a": 1}));
        assert_eq!(merged(json!({"a": 1}), json!("x")), json!("x"));
    }

    #[test]
    fn nulls_inside_new_objects_are_dropped() {
        assert_eq!(
            merged(json!({}), json!({"n": {"keep": 1, "drop": null}})),
            json!({"n": {"keep": 1}})
        );
    }

    #[test]
    fn bad_cfg_reports_the_position() {
        let e = parse_cfg(Some("{\"a\": 1,\n \"b\": }")).unwrap_err();
        match e {
            InitError::BadCfg { line, column, .. } => {
                assert_eq!(line, 2);
                assert_eq!(column, 7);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(parse_cfg(Some("  ")).unwrap().is_none());
        assert!(parse_cfg(None).unwrap().is_none());
    }

    #[test]
    fn get_walks_objects_and_arrays() {
        let v = json!({"a": {"b": [10, {"c": "x"}]}});
        assert_eq!(get(&v, "a.b.0"), Some(&json!(10)));
        assert_eq!(get(&v, "a.b.1.c"), Some(&json!("x")));
        assert_eq!(get(&v, "a.z"), None);
        assert_eq!(get(&v, ""), Some(&v));
        assert_eq!(render(&json!("x")), "x");
        assert_eq!(render(&json!(3)), "3");
    }
}
