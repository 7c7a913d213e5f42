//! Errors and warnings of translation and validation, each tied to the JSON path of the field
//! that caused it, collected all at once so a user sees every problem in one pass.

use std::fmt;

/// One finding about one field.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// JSON path of the field, e.g. `spec.containerDefinitions[0].memoryReservation`.
    pub path: String,
    /// What is wrong, or what has no effect.
    pub message: String,
    /// How to fix it, when there is something to do.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// Every error found in a spec: the translation produced nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Invalid(pub Vec<Diagnostic>);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} problem{}:", if n == 1 { "" } else { "s" })?;
        for d in &self.0 {
            write!(f, "\n  - {d}")?;
        }
        Ok(())
    }
}

/// The accumulator threaded through validation and translation.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Report {
    /// Record an error at `path`.
    pub fn error(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) {
        self.errors.push(Diagnostic {
            path: path.into(),
            message: message.into(),
            hint: hint.into(),
        });
    }

    /// Record a warning at `path` (accepted, but not everything it asks for happens).
    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let d = Diagnostic {
            path: path.into(),
            message: message.into(),
            hint: None,
        };
        if !self.warnings.contains(&d) {
            self.warnings.push(d);
        }
    }

    /// Whether no error was recorded.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Move everything from `other` into `self`.
    pub fn merge(&mut self, other: Report) {
        self.errors.extend(other.errors);
        for w in other.warnings {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
    }

    /// `Err(Invalid)` with every error, sorted by path, when any was recorded.
    pub fn into_result<T>(mut self, value: T) -> Result<(T, Vec<Diagnostic>), Invalid> {
        if self.errors.is_empty() {
            Ok((value, self.warnings))
        } else {
            self.errors.sort();
            self.errors.dedup();
            Err(Invalid(self.errors))
        }
    }
}

/// Build JSON paths: `path!("spec.containerDefinitions[{}].name", i)`.
pub fn at(base: &str, field: &str) -> String {
    format!("{base}.{field}")
}

/// `base[index]`.
pub fn idx(base: &str, index: usize) -> String {
    format!("{base}[{index}]")
}
