//! Template placeholders (issue 9 item 9) as deploy tools leave them in task and service
//! definitions: ecspresso's `{{ must_env `VAR` }}` and `{{ env `VAR` `default` }}` (Go
//! text/template, backquoted or double-quoted arguments), envsubst's `${VAR}` (with the shell's
//! `${VAR:-default}` / `${VAR-default}`), CodePipeline's `<IMAGE1_NAME>`, and the token-replace
//! styles `__VAR__` and `$$$VAR$$$`. Values come from `--set VAR=value` and `--env-file FILE`;
//! every placeholder left is reported with its path, as one error.
//!
//! Templates are text: ecspresso renders `"cpu": {{ must_env `CPU` }}` before parsing the
//! JSON. `quote_bare` makes such a file parseable first (the placeholder becomes a string, and
//! the schema fit turns the substituted "256" back into a number), so every leftover still has
//! a JSON path.

use std::collections::BTreeMap;

use serde_json::Value;

use super::report::join;

/// Variables for substitution, by name.
pub type Vars = BTreeMap<String, String>;

/// A placeholder nothing substituted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leftover {
    /// JSON path of the string in the source document.
    pub path: String,
    /// The placeholder as written.
    pub placeholder: String,
    /// `${VAR}` in a command: maybe the container's own shell variable, so only a note.
    pub maybe_shell: bool,
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn is_upper_name(s: &str) -> bool {
    s.chars().next().is_some_and(|f| f.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// One placeholder found at the start of `s`: its length and its value when known
/// (`Err(())` = a placeholder without a value).
fn placeholder_at(s: &str, vars: &Vars) -> Option<(usize, Result<String, ()>)> {
    let var = |n: &str| vars.get(n).cloned().ok_or(());
    if let Some(rest) = s.strip_prefix("{{") {
        let end = rest.find("}}")?;
        let inner = rest[..end]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-');
        let len = 2 + end + 2;
        return Some((len, go_template(inner.trim(), vars)));
    }
    if let Some(rest) = s.strip_prefix("${") {
        let end = rest.find('}')?;
        let body = &rest[..end];
        let (name, default) = match body.find(":-").or_else(|| body.find('-')) {
            Some(i) => {
                let skip = if body[i..].starts_with(":-") { 2 } else { 1 };
                (&body[..i], Some(&body[i + skip..]))
            }
            None => (body, None),
        };
        if !is_name(name) {
            return None;
        }
        let value = match (vars.get(name), default) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(d)) => Ok(d.to_string()),
            (None, None) => Err(()),
        };
        return Some((2 + end + 1, value));
    }
    if let Some(rest) = s.strip_prefix("$$$") {
        let end = rest.find("$$$")?;
        let name = &rest[..end];
        return is_name(name).then(|| (3 + end + 3, var(name)));
    }
    if let Some(rest) = s.strip_prefix("__") {
        let end = rest.find("__")?;
        let name = &rest[..end];
        return (is_upper_name(name) && !name.ends_with('_')).then(|| (2 + end + 2, var(name)));
    }
    if let Some(rest) = s.strip_prefix('<') {
        let end = rest.find('>')?;
        let name = &rest[..end];
        return is_upper_name(name).then(|| (1 + end + 1, var(name)));
    }
    None
}

/// ecspresso's template functions `env` and `must_env`; anything else has no value here.
fn go_template(inner: &str, vars: &Vars) -> Result<String, ()> {
    let mut words = inner.splitn(2, char::is_whitespace);
    let func = words.next().unwrap_or_default();
    let args = go_args(words.next().unwrap_or_default());
    match (func, args.as_slice()) {
        ("must_env", [name]) => vars.get(name).cloned().ok_or(()),
        ("env", [name]) => Ok(vars.get(name).cloned().unwrap_or_default()),
        ("env", [name, default]) => Ok(vars.get(name).cloned().unwrap_or(default.clone())),
        _ => Err(()),
    }
}

/// Go string literals: `a` and "a", space separated.
fn go_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while let Some(q) = rest.chars().next().filter(|c| *c == '`' || *c == '"') {
        let Some(end) = rest[1..].find(q) else { break };
        out.push(rest[1..1 + end].to_string());
        rest = rest[1 + end + 1..].trim_start();
    }
    if !rest.is_empty() {
        out.push(rest.to_string()); // not a literal: makes the call unknown
    }
    out
}

/// `--env-file` content: `VAR=value` lines, `#` comments, an optional `export `, values
/// optionally in single or double quotes (the dotenv rules envsubst users keep).
pub fn parse_env_file(text: &str) -> Vars {
    let mut vars = Vars::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = [('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|(a, b)| v.strip_prefix(*a).and_then(|v| v.strip_suffix(*b)))
            .unwrap_or(v);
        vars.insert(k.trim().to_string(), v.to_string());
    }
    vars
}

/// Substitute every placeholder in `s`; record those without a value.
fn substitute_str(s: &str, vars: &Vars, path: &str, left: &mut Vec<Leftover>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        match placeholder_at(rest, vars) {
            Some((len, Ok(v))) => {
                out.push_str(&v);
                i += len;
            }
            Some((len, Err(()))) => {
                let placeholder = rest[..len].to_string();
                let maybe_shell = placeholder.starts_with("${")
                    && (path.contains(".command[")
                        || path.contains(".entryPoint[")
                        || path.starts_with("command[")
                        || path.starts_with("entryPoint["));
                left.push(Leftover {
                    path: path.to_string(),
                    placeholder: placeholder.clone(),
                    maybe_shell,
                });
                out.push_str(&placeholder);
                i += len;
            }
            None => {
                let ch = rest.chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// Substitute placeholders in every string (and map key) of `v`; return those left.
pub fn substitute(v: &mut Value, vars: &Vars, path: &str) -> Vec<Leftover> {
    let mut left = Vec::new();
    walk(v, vars, path, &mut left);
    left
}

fn walk(v: &mut Value, vars: &Vars, path: &str, left: &mut Vec<Leftover>) {
    match v {
        Value::String(s) => {
            let new = substitute_str(s, vars, path, left);
            if new != *s {
                *s = new;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, vars, &format!("{path}[{i}]"), left);
            }
        }
        Value::Object(m) => {
            let entries: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
            for (k, mut item) in entries {
                let key = substitute_str(&k, vars, &join(path, &k), left);
                walk(&mut item, vars, &join(path, &key), left);
                m.insert(key, item);
            }
        }
        _ => {}
    }
}

/// Quote placeholders that stand bare in JSON text (outside any string), so that a template
/// such as `"cpu": {{ must_env `CPU` }}` parses; text that is not JSON is returned as is.
pub fn quote_bare(text: &str) -> String {
    if !text.trim_start().starts_with(['{', '[']) {
        return quote_bare_yaml(text);
    }
    let none = Vars::new();
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let ch = rest.chars().next().unwrap_or(' ');
        if in_string {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_string = false;
            }
        } else if ch == '"' {
            in_string = true;
        } else if let Some((len, _)) = placeholder_at(rest, &none) {
            out.push_str(&serde_json::to_string(&rest[..len]).unwrap_or_default());
            i += len;
            continue;
        }
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// YAML reads `{{ ... }}` at the start of a value as a flow mapping: quote it there.
fn quote_bare_yaml(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let Some(start) = line.find("{{") else {
            out.push_str(line);
            continue;
        };
        let before = line[..start].trim_end();
        let bare = before.is_empty() || before.ends_with(':') || before.ends_with('-');
        let (body, eol) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        if bare && !body[start..].trim_end().contains('#') {
            let value = body[start..].trim_end();
            out.push_str(&body[..start]);
            out.push('\'');
            out.push_str(&value.replace('\'', "''"));
            out.push('\'');
            out.push_str(eol);
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_style_substitutes_and_leftovers_have_paths() {
        let mut v = json!({"image": "{{ must_env `REPO` }}:{{ env `TAG` `latest` }}",
            "a": "${A}", "b": "${B:-dflt}", "c": "__C__", "d": "$$$D$$$", "e": "<IMAGE1_NAME>",
            "f": "{{ env \"F\" }}", "keep": "arn:aws:iam::<aws_account_id>:role/x __init__ $HOME",
            "cmd": {"command": ["sh", "-c", "echo ${PORT}"]}, "g": "{{ tfstate `x` }}"});
        let left = substitute(
            &mut v,
            &vars(&[
                ("REPO", "r"),
                ("A", "1"),
                ("C", "3"),
                ("D", "4"),
                ("IMAGE1_NAME", "img"),
            ]),
            "",
        );
        assert_eq!(v["image"], "r:latest");
        assert_eq!(
            (&v["a"], &v["b"], &v["c"], &v["d"], &v["e"], &v["f"]),
            (
                &json!("1"),
                &json!("dflt"),
                &json!("3"),
                &json!("4"),
                &json!("img"),
                &json!("")
            )
        );
        assert_eq!(
            v["keep"],
            "arn:aws:iam::<aws_account_id>:role/x __init__ $HOME"
        );
        assert_eq!(left.len(), 2, "{left:?}");
        assert_eq!(left[0].path, "cmd.command[2]");
        assert!(left[0].maybe_shell);
        assert_eq!(
            (left[1].path.as_str(), left[1].placeholder.as_str()),
            ("g", "{{ tfstate `x` }}")
        );
    }

    #[test]
    fn bare_placeholders_are_quoted_so_templates_parse() {
        let t = quote_bare("{\"cpu\": {{ must_env `CPU` }}, \"s\": \"{{ x }}\", \"n\": ${N}}");
        assert_eq!(
            t,
            "{\"cpu\": \"{{ must_env `CPU` }}\", \"s\": \"{{ x }}\", \"n\": \"${N}\"}"
        );
        let y = quote_bare("cpu: {{ must_env `CPU` }}\nimage: \"{{ env `I` }}\"\n");
        assert_eq!(y, "cpu: '{{ must_env `CPU` }}'\nimage: \"{{ env `I` }}\"\n");
    }
}
