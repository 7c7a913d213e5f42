//! Fitting scalars to the numbers and booleans the API takes: lossless conversions from the
//! strings that placeholder substitution and templates leave (`"256"` → 256), each noted;
//! anything else refused with its path.

use serde_json::{Number, Value};

use super::report::Fate;
use super::schema::{Cx, kind_of};

pub(super) fn fit_integer(v: &mut Value, schema: &Value, rel: &str, cx: &mut Cx<'_>) -> bool {
    let int32 = schema.get("format").and_then(Value::as_str) == Some("int32");
    let n: i64 = match &*v {
        Value::Number(n) if n.as_i64().is_some() => n.as_i64().unwrap_or_default(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                cx.note(
                    rel,
                    Fate::Converted,
                    format!("the whole number {n} written as {}", f as i64),
                );
                f as i64
            }
            _ => {
                cx.note(
                    rel,
                    Fate::Refused,
                    format!("must be a whole number, found {n}"),
                );
                return true;
            }
        },
        Value::String(s) if s.is_empty() => {
            cx.note(
                rel,
                Fate::Stripped,
                "empty string for a number: treated as absent".into(),
            );
            return false;
        }
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => {
                cx.note(rel, Fate::Converted, format!("the API takes a number here (ECS API model type Integer): the string \"{s}\" written as {n}"));
                n
            }
            Err(_) => {
                cx.note(
                    rel,
                    Fate::Refused,
                    format!("expected a whole number, found the string \"{s}\""),
                );
                return true;
            }
        },
        other => {
            let found = kind_of(other);
            cx.note(
                rel,
                Fate::Refused,
                format!("expected a whole number, found {found}"),
            );
            return true;
        }
    };
    if int32 && i32::try_from(n).is_err() {
        cx.note(
            rel,
            Fate::Refused,
            format!("{n} is out of the 32-bit integer range the API takes"),
        );
        return true;
    }
    *v = Value::Number(n.into());
    true
}

pub(super) fn fit_number(v: &mut Value, rel: &str, cx: &mut Cx<'_>) -> bool {
    match &*v {
        Value::Number(_) => true,
        Value::String(s) => match s.trim().parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => {
                cx.note(
                    rel,
                    Fate::Converted,
                    format!("the API takes a number here: the string \"{s}\" written as {n}"),
                );
                *v = Value::Number(n);
                true
            }
            None => {
                cx.note(
                    rel,
                    Fate::Refused,
                    format!("expected a number, found the string \"{s}\""),
                );
                true
            }
        },
        other => {
            let found = kind_of(other);
            cx.note(
                rel,
                Fate::Refused,
                format!("expected a number, found {found}"),
            );
            true
        }
    }
}

pub(super) fn fit_boolean(v: &mut Value, rel: &str, cx: &mut Cx<'_>) -> bool {
    match &*v {
        Value::Bool(_) => true,
        Value::String(s) if s == "true" || s == "false" => {
            cx.note(
                rel,
                Fate::Converted,
                format!("the API takes a boolean here: the string \"{s}\" written as {s}"),
            );
            *v = Value::Bool(s == "true");
            true
        }
        other => {
            let found = kind_of(other);
            cx.note(
                rel,
                Fate::Refused,
                format!("expected true or false, found {found}"),
            );
            true
        }
    }
}
