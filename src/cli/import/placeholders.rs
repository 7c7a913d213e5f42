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
    /// For a template lookup (`tfstate`, `ssm`, …): the `--set` key that gives its value.
    pub key: Option<String>,
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
/// (`Err(key)` = a placeholder without a value; `key`, for a template lookup, is the `--set`
/// key that gives it).
fn placeholder_at(s: &str, vars: &Vars) -> Option<(usize, Result<String, Option<String>>)> {
    let var = |n: &str| vars.get(n).cloned().ok_or(None);
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
            (None, None) => Err(None),
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

/// ecspresso's template syntax (ecspresso README, "Template syntax" and "Plugins",
/// https://github.com/kayac/ecspresso): Go text/template actions with pipelines and
/// parenthesised calls, and the functions ecspresso documents — `env NAME [DEFAULT]`,
/// `must_env NAME`, `json_escape`, and the lookups of its plugins, `tfstate ADDRESS`,
/// `tfstatef FORMAT ARGS…`, `cfn_output STACK KEY`, `cfn_export NAME`, `ssm NAME [INDEX]` and
/// `secretsmanager_arn NAME` (with any `func_prefix`, e.g. `first_tfstate`). Lookups need AWS, so
/// their values come from `--set` under the key `FUNC:ARGS` (`tfstate:aws_subnet.a.id`,
/// `cfn_output:Stack:Key`, `ssm:/path` — a StringList's whole value, `INDEX` picks an item).
/// Anything else (`if`, `range`, `.Env`) has no value here.
fn go_template(inner: &str, vars: &Vars) -> Result<String, Option<String>> {
    let tokens = go_tokens(inner).ok_or(None)?;
    let mut pos = 0;
    let v = go_pipeline(&tokens, &mut pos, vars)?;
    if pos == tokens.len() {
        Ok(v)
    } else {
        Err(None)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Pipe,
}

fn go_tokens(s: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '|' => {
                chars.next();
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    _ => Tok::Pipe,
                });
            }
            '`' => {
                chars.next();
                let mut lit = String::new();
                loop {
                    match chars.next()? {
                        '`' => break,
                        ch => lit.push(ch),
                    }
                }
                out.push(Tok::Str(lit));
            }
            '"' => {
                chars.next();
                let mut lit = String::new();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            'n' => lit.push('\n'),
                            't' => lit.push('\t'),
                            ch => lit.push(ch),
                        },
                        ch => lit.push(ch),
                    }
                }
                out.push(Tok::Str(lit));
            }
            _ => {
                let mut word = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || matches!(ch, '(' | ')' | '|' | '`' | '"') {
                        break;
                    }
                    word.push(ch);
                    chars.next();
                }
                out.push(Tok::Word(word));
            }
        }
    }
    Some(out)
}

/// `command ('|' command)*`: each command's value is the last argument of the next.
fn go_pipeline(t: &[Tok], pos: &mut usize, vars: &Vars) -> Result<String, Option<String>> {
    let mut value = go_command(t, pos, vars, None)?;
    while t.get(*pos) == Some(&Tok::Pipe) {
        *pos += 1;
        value = go_command(t, pos, vars, Some(value))?;
    }
    Ok(value)
}

fn go_command(
    t: &[Tok],
    pos: &mut usize,
    vars: &Vars,
    piped: Option<String>,
) -> Result<String, Option<String>> {
    let func = match t.get(*pos) {
        Some(Tok::Word(w)) if w.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) => {
            *pos += 1;
            w.clone()
        }
        // A literal alone (or a parenthesised pipeline) is its own value.
        Some(_) if piped.is_none() => return go_arg(t, pos, vars),
        _ => return Err(None),
    };
    let mut args = Vec::new();
    while !matches!(t.get(*pos), None | Some(Tok::Pipe) | Some(Tok::Close)) {
        args.push(go_arg(t, pos, vars)?);
    }
    args.extend(piped);
    go_call(&func, &args, vars)
}

fn go_arg(t: &[Tok], pos: &mut usize, vars: &Vars) -> Result<String, Option<String>> {
    let tok = t.get(*pos).cloned().ok_or(None)?;
    *pos += 1;
    match tok {
        Tok::Str(s) => Ok(s),
        // Numbers (ssm's index); words that are not literals make the action unknown.
        Tok::Word(w) if w.parse::<f64>().is_ok() => Ok(w),
        Tok::Open => {
            let v = go_pipeline(t, pos, vars)?;
            if t.get(*pos) != Some(&Tok::Close) {
                return Err(None);
            }
            *pos += 1;
            Ok(v)
        }
        _ => Err(None),
    }
}

/// A lookup's value from `--set KEY=VALUE`, or the key to give.
fn lookup(key: String, vars: &Vars) -> Result<String, Option<String>> {
    vars.get(&key).cloned().ok_or(Some(key))
}

fn go_call(func: &str, args: &[String], vars: &Vars) -> Result<String, Option<String>> {
    // Plugin functions may carry a func_prefix (ecspresso README, "Multiple tfstate support").
    let base = [
        "tfstatef",
        "tfstate",
        "cfn_output",
        "cfn_export",
        "ssm",
        "secretsmanager_arn",
    ]
    .into_iter()
    .find(|b| func.ends_with(b));
    match (func, args) {
        ("must_env", [name]) => vars.get(name).cloned().ok_or(None),
        ("env", [name]) => Ok(vars.get(name).cloned().unwrap_or_default()),
        ("env", [name, default]) => Ok(vars.get(name).cloned().unwrap_or(default.clone())),
        // ecspresso renders the text before parsing it, so json_escape keeps a value intact
        // inside a JSON string; here the value goes into the parsed string itself: as is.
        ("json_escape", [v]) => Ok(v.clone()),
        _ => match (base, args) {
            (Some("tfstate"), [addr]) => lookup(format!("{func}:{addr}"), vars),
            (Some("tfstatef"), [fmt, rest @ ..]) => {
                let mut addr = fmt.clone();
                for a in rest {
                    addr = addr.replacen("%s", a, 1);
                }
                let prefix = &func[..func.len() - "tfstatef".len()];
                lookup(format!("{prefix}tfstate:{addr}"), vars)
            }
            (Some("cfn_output"), [stack, key]) => lookup(format!("{func}:{stack}:{key}"), vars),
            (Some("cfn_export" | "secretsmanager_arn"), [name]) => {
                lookup(format!("{func}:{name}"), vars)
            }
            (Some("ssm"), [name]) => lookup(format!("{func}:{name}"), vars),
            (Some("ssm"), [name, index]) => {
                let all = lookup(format!("{func}:{name}"), vars)?;
                let i: usize = index.parse().map_err(|_| None)?;
                all.split(',').nth(i).map(str::to_string).ok_or(None)
            }
            _ => Err(None),
        },
    }
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
            Some((len, Err(key))) => {
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
                    key,
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
        // Bare: a mapping value or a list item, not the middle of a quoted or plain scalar
        // (`cluster: 'app-{{ … }}'` is already a string).
        let quoted = before.matches('\'').count() % 2 == 1 || before.matches('"').count() % 2 == 1;
        let item = before == "-" || before.ends_with(" -");
        let bare = !quoted && (before.is_empty() || before.ends_with(':') || item);
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

    /// ecspresso README, "Template syntax" and "Plugins" (https://github.com/kayac/ecspresso).
    #[test]
    fn ecspresso_template_functions_pipelines_and_lookups() {
        let vars = vars(&[
            ("SERVICE", "api"),
            ("J", "{\"a\": 1}"),
            ("tfstate:aws_subnet.ecs['api'].id", "subnet-1"),
            ("first_tfstate:aws_s3_bucket.main.arn", "arn:aws:s3:::b"),
            ("ssm:/list", "a,b,c"),
            ("cfn_output:Stack:Key", "out"),
        ]);
        let mut v = json!({
            "a": "{{ tfstatef `aws_subnet.ecs['%s'].id` (must_env `SERVICE`) }}",
            "b": "{{ must_env `J` | json_escape }}",
            "c": "{{ ssm `/list` 2 }}",
            "d": "{{ first_tfstate `aws_s3_bucket.main.arn` }}",
            "e": "{{ cfn_output `Stack` `Key` }}",
            "f": "{{ env \"NOPE\" \"dflt\" }}",
            "g": "{{ secretsmanager_arn `db` }}",
            "h": "{{ if .X }}y{{ end }}",
        });
        let left = substitute(&mut v, &vars, "");
        assert_eq!(
            (&v["a"], &v["b"], &v["c"], &v["d"], &v["e"], &v["f"]),
            (
                &json!("subnet-1"),
                &json!("{\"a\": 1}"),
                &json!("c"),
                &json!("arn:aws:s3:::b"),
                &json!("out"),
                &json!("dflt")
            )
        );
        let keys: Vec<_> = left
            .iter()
            .map(|l| (l.path.as_str(), l.key.as_deref()))
            .collect();
        assert_eq!(
            keys,
            [
                ("g", Some("secretsmanager_arn:db")),
                ("h", None),
                ("h", None)
            ]
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
        // Inside a scalar that ends in '-' it is part of that scalar, not a list item.
        let y = quote_bare("cluster: 'app-{{ must_env `ENV` }}'\nlist:\n  - {{ env `A` }}\n");
        assert_eq!(
            y,
            "cluster: 'app-{{ must_env `ENV` }}'\nlist:\n  - '{{ env `A` }}'\n"
        );
    }
}
