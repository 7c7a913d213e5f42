//! The migration report (issue 9 item 14): what became of every source field — mapped,
//! converted, filled in, stripped, warned or refused — with its path in the source document.
//! Printed on stderr by every `import`; `--report json` writes the same entries as JSON.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

/// What became of one source field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fate {
    /// Kept as is; the translator gives it a Kubernetes effect.
    Mapped,
    /// Kept, rewritten to the type or spelling the API takes (lossless).
    Converted,
    /// Absent in the source, supplied by a flag or a default.
    FilledIn,
    /// Removed: read-only, unknown to this ECS version, explicit null, or empty.
    Stripped,
    /// Kept, but Kubernetes cannot do all of what ECS does with it.
    Warned,
    /// An error: the import does not produce resources.
    Refused,
}

impl Fate {
    /// All fates, in report order.
    pub const ALL: [Fate; 6] = [
        Fate::Mapped,
        Fate::Converted,
        Fate::FilledIn,
        Fate::Stripped,
        Fate::Warned,
        Fate::Refused,
    ];

    /// The word used on stderr and in the JSON report.
    pub fn label(self) -> &'static str {
        match self {
            Fate::Mapped => "mapped",
            Fate::Converted => "converted",
            Fate::FilledIn => "filled-in",
            Fate::Stripped => "stripped",
            Fate::Warned => "warned",
            Fate::Refused => "refused",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The file (or `<stdin>`) the field came from.
    pub source: String,
    /// The custom resource it went to (`TaskDefinition/web`), or empty for the whole input.
    pub resource: String,
    /// JSON path of the field in the source document (empty: the document itself).
    pub path: String,
    pub fate: Fate,
    /// What happened and why (with the ECS model shape/member or guide page where it matters).
    pub detail: String,
}

/// Where entries being recorded belong.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub source: String,
    pub resource: String,
    /// Path of the resource's spec inside the source document (`taskDefinition`, `services[0]`).
    pub prefix: String,
}

impl Scope {
    /// The source path of `rel`, a path relative to the spec.
    pub fn path(&self, rel: &str) -> String {
        join(&self.prefix, rel)
    }
}

/// `a` + `.b` (or `[0]` segments) without a leading dot.
pub fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ if b.starts_with('[') => format!("{a}{b}"),
        _ => format!("{a}.{b}"),
    }
}

/// The whole report of one `import` run (all its files and documents).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub entries: Vec<Entry>,
}

impl Report {
    /// Record a finding at `rel` (relative to the scope's spec).
    pub fn add(&mut self, scope: &Scope, rel: &str, fate: Fate, detail: impl Into<String>) {
        self.entries.push(Entry {
            source: scope.source.clone(),
            resource: scope.resource.clone(),
            path: scope.path(rel),
            fate,
            detail: detail.into(),
        });
    }

    /// Record a refusal that concerns a document or the whole input.
    pub fn refuse(&mut self, source: &str, path: &str, detail: impl Into<String>) {
        self.entries.push(Entry {
            source: source.into(),
            resource: String::new(),
            path: path.into(),
            fate: Fate::Refused,
            detail: detail.into(),
        });
    }

    /// Whether nothing was refused.
    pub fn is_ok(&self) -> bool {
        !self.entries.iter().any(|e| e.fate == Fate::Refused)
    }

    /// Entries of one fate.
    pub fn of(&self, fate: Fate) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.fate == fate)
    }

    /// How many entries each fate has (every fate present, zeros included).
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut c: BTreeMap<&'static str, usize> =
            Fate::ALL.iter().map(|f| (f.label(), 0)).collect();
        for e in &self.entries {
            *c.entry(e.fate.label()).or_default() += 1;
        }
        c
    }

    /// The one-line summary that ends the stderr report.
    pub fn summary(&self) -> String {
        let c = self.counts();
        let parts: Vec<String> = Fate::ALL
            .iter()
            .map(|f| format!("{} {}", c[f.label()], f.label()))
            .collect();
        format!("import report: {}", parts.join(", "))
    }

    /// The report as stderr lines: one per entry, grouped by source and resource, then the summary.
    pub fn to_text(&self) -> String {
        let mut groups: Vec<(&str, &str)> = Vec::new();
        for e in &self.entries {
            let key = (e.source.as_str(), e.resource.as_str());
            if !groups.contains(&key) {
                groups.push(key);
            }
        }
        let mut out = String::new();
        for (source, resource) in groups {
            let what = if resource.is_empty() {
                "(input)"
            } else {
                resource
            };
            let from = if source.is_empty() {
                "every source"
            } else {
                source
            };
            out.push_str(&format!("{what} from {from}:\n"));
            for e in self
                .entries
                .iter()
                .filter(|e| e.source == source && e.resource == resource)
            {
                let path = if e.path.is_empty() {
                    "(document)"
                } else {
                    &e.path
                };
                out.push_str(&format!("  {:<9} {path}: {}\n", e.fate.label(), e.detail));
            }
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// The report as JSON: `{"summary": {fate: count}, "entries": [...]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "summary": self.counts(),
            "entries": self.entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_and_report_counts_every_fate() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("services[0]", "cpu"), "services[0].cpu");
        assert_eq!(join("a", "[1]"), "a[1]");
        let scope = Scope {
            source: "f.json".into(),
            resource: "TaskDefinition/web".into(),
            prefix: "taskDefinition".into(),
        };
        let mut r = Report::default();
        r.add(&scope, "ipcMode", Fate::Stripped, "empty string");
        assert!(r.is_ok());
        assert_eq!(r.entries[0].path, "taskDefinition.ipcMode");
        assert_eq!(r.counts()["stripped"], 1);
        assert_eq!(r.counts()["refused"], 0);
        r.refuse("f.json", "", "bad");
        assert!(!r.is_ok());
        let text = r.to_text();
        assert!(
            text.contains("stripped  taskDefinition.ipcMode: empty string"),
            "{text}"
        );
        assert!(text.ends_with("0 warned, 1 refused\n"), "{text}");
        assert_eq!(r.to_json()["entries"][1]["fate"], "refused");
    }
}
