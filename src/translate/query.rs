//! The ECS cluster query language — the `expression` of a `memberOf` placement constraint — parsed
//! into an [`Expr`] and translated into Kubernetes node affinity and pod (anti-)affinity.
//!
//! Pure: no I/O. Grammar as in
//! <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-query-language.html>:
//! `subject operator [argument]` conditions joined by `&&`/`and`, `||`/`or`, `!`/`not` and
//! parentheses, where `and` binds tighter than `or`. Every error carries the 1-based character
//! column it is about, so a caller can point at the exact spot in the user's expression.

use std::fmt;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};

/// ECS rejects longer expressions; the cap also bounds every recursion below.
const MAX_LEN: usize = 2000;
/// Nesting of parentheses and negations, so a hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 32;
/// Node-selector terms a DNF expansion may produce before we refuse (it can grow exponentially).
const MAX_TERMS: usize = 32;

/// A problem with an expression, at a 1-based character column of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError {
        column,
        message: message.into(),
    })
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cond(Condition),
}

/// One `subject operator [argument]` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub subject: Subject,
    pub op: Op,
    /// No value for `exists`/`not_exists`, the list for `in`/`not_in`, else exactly one value.
    pub args: Vec<String>,
    /// Column of the subject.
    pub column: usize,
}

/// What a condition tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `attribute:NAME`, e.g. `ecs.instance-type` or a custom attribute.
    Attribute(String),
    /// `task:group`.
    TaskGroup,
    /// `agentConnected`, `agentVersion`, `ec2InstanceId`, `registeredAt`, `runningTasksCount`.
    Other(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Attribute(name) => write!(f, "attribute:{name}"),
            Subject::TaskGroup => f.write_str("task:group"),
            Subject::Other(name) => f.write_str(name),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Exists,
    NotExists,
    In,
    NotIn,
    Matches,
    NotMatches,
}

/// Each operator with its symbol and word spellings, listed in negation pairs: `not (a == b)`
/// is `a != b`, `not (a > b)` is `a <= b`, and so on, which is how `not` is pushed inward.
const OPS: [(Op, &str, &str); 12] = [
    (Op::Eq, "==", "equals"),
    (Op::Ne, "!=", "not_equals"),
    (Op::Gt, ">", "greater_than"),
    (Op::Le, "<=", "less_than_equal"),
    (Op::Lt, "<", "less_than"),
    (Op::Ge, ">=", "greater_than_equal"),
    (Op::Exists, "exists", "exists"),
    (Op::NotExists, "!exists", "not_exists"),
    (Op::In, "in", "in"),
    (Op::NotIn, "!in", "not_in"),
    (Op::Matches, "=~", "matches"),
    (Op::NotMatches, "!~", "not_matches"),
];

impl Op {
    fn index(self) -> usize {
        OPS.iter()
            .position(|(op, ..)| *op == self)
            .unwrap_or_default()
    }

    /// The operator that holds exactly when this one does not.
    pub fn negate(self) -> Op {
        OPS[self.index() ^ 1].0
    }

    fn negated_if(self, negated: bool) -> Op {
        if negated { self.negate() } else { self }
    }

    fn from_token(text: &str) -> Option<Op> {
        OPS.iter()
            .find(|(_, sym, word)| text == *sym || text == *word)
            .map(|(op, ..)| *op)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(OPS[self.index()].1)
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Word(String),
    Quoted(String),
    Sym(&'static str),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    column: usize,
}

impl Token {
    fn is(&self, sym: &str) -> bool {
        matches!(self.kind, Kind::Sym(s) if s == sym)
    }
    fn is_word(&self, word: &str) -> bool {
        matches!(&self.kind, Kind::Word(w) if w == word)
    }
}

/// How a token reads in an error message.
impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Word(w) => write!(f, "'{w}'"),
            Kind::Quoted(s) => write!(f, "the quoted value '{s}'"),
            Kind::Sym(s) => write!(f, "'{s}'"),
            Kind::End => f.write_str("the end of the expression"),
        }
    }
}

/// Bare words: subjects (`attribute:ecs.os-type`, `task:group`), word operators and values.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ".-_:/*".contains(c)
}

/// Punctuation and symbolic operators, two-character ones first so `>=` wins over `>`.
const SYMBOLS: [&str; 16] = [
    "&&", "||", "==", "!=", ">=", "<=", "=~", "!~", ">", "<", "!", "(", ")", "[", "]", ",",
];

fn lex(input: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let word_at = |at: usize| -> String {
        chars[at..]
            .iter()
            .take_while(|c| is_word_char(**c))
            .collect()
    };
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (c, column) = (chars[i], i + 1);
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let ahead: String = chars[i..].iter().take(2).collect();
        let (kind, len) = if is_word_char(c) {
            let word = word_at(i);
            let len = word.chars().count();
            (Kind::Word(word), len)
        } else if c == '\'' || c == '"' {
            let Some(n) = chars[i + 1..].iter().position(|&d| d == c) else {
                return err(
                    column,
                    format!("unterminated quoted value: this {c} is never closed"),
                );
            };
            (
                Kind::Quoted(chars[i + 1..i + 1 + n].iter().collect()),
                n + 2,
            )
        } else if let Some(s) = ["!in", "!exists"]
            .iter()
            .find(|s| c == '!' && word_at(i + 1) == s[1..])
        {
            // `!in` and `!exists` are operators; `!` before anything else negates.
            (Kind::Sym(s), s.len())
        } else if let Some(s) = SYMBOLS.iter().find(|s| ahead.starts_with(**s)) {
            (Kind::Sym(s), s.len())
        } else {
            let hint = match c {
                '=' => "; use '==' to compare or '=~' to match",
                '&' => "; use '&&' or 'and'",
                '|' => "; use '||' or 'or'",
                _ => "",
            };
            return err(column, format!("unexpected character {c:?}{hint}"));
        };
        tokens.push(Token { kind, column });
        i += len;
    }
    tokens.push(Token {
        kind: Kind::End,
        column: chars.len() + 1,
    });
    Ok(tokens)
}

// ---------------------------------------------------------------------------------------------
// Parser: or := and (('||' | 'or') and)* ; and := unary (('&&' | 'and') unary)* ;
//         unary := ('!' | 'not') unary | '(' or ')' | subject operator [value | list]

/// Parse an expression, reporting the first problem found.
pub fn parse(expr: &str) -> Result<Expr, QueryError> {
    if expr.chars().count() > MAX_LEN {
        return err(
            MAX_LEN + 1,
            format!("expression is longer than ECS's {MAX_LEN} characters"),
        );
    }
    if expr.trim().is_empty() {
        return err(1, "empty expression");
    }
    let mut p = Parser {
        tokens: lex(expr)?,
        pos: 0,
        depth: 0,
    };
    let e = p.or_expr()?;
    let t = p.next();
    match &t.kind {
        Kind::End => Ok(e),
        _ if t.is(")") => err(
            t.column,
            "unbalanced parenthesis: this ')' has no matching '('",
        ),
        Kind::Word(w) if ["and", "or", "not"].contains(&w.to_lowercase().as_str()) => err(
            t.column,
            format!("unexpected '{w}'; keywords are lower-case: and, or, not"),
        ),
        _ => err(t.column, format!("expected 'and' or 'or' before {t}")),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Open parentheses and negations around the current position.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // `lex` always ends the list with `End`, and `next` never moves past it.
        &self.tokens[self.pos]
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        self.pos = (self.pos + 1).min(self.tokens.len() - 1);
        t
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut lhs = self.and_expr()?;
        while self.peek().is("||") || self.peek().is_word("or") {
            self.next();
            lhs = Expr::Or(Box::new(lhs), Box::new(self.and_expr()?));
        }
        Ok(lhs)
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut lhs = self.unary()?;
        while self.peek().is("&&") || self.peek().is_word("and") {
            self.next();
            lhs = Expr::And(Box::new(lhs), Box::new(self.unary()?));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        let open = self.peek().clone();
        let negation = open.is("!") || open.is_word("not");
        if !negation && !open.is("(") {
            return self.condition();
        }
        if self.depth == MAX_DEPTH {
            return err(
                open.column,
                format!("expression nests deeper than {MAX_DEPTH} levels"),
            );
        }
        self.next();
        self.depth += 1;
        let inner = if negation {
            self.unary()
        } else {
            self.or_expr()
        };
        self.depth -= 1;
        let inner = inner?;
        if negation {
            return Ok(Expr::Not(Box::new(inner)));
        }
        let close = self.next();
        match close.kind {
            _ if close.is(")") => Ok(inner),
            Kind::End => err(
                open.column,
                "unbalanced parenthesis: this '(' is never closed",
            ),
            _ => err(
                close.column,
                format!(
                    "expected 'and', 'or' or the ')' closing column {}, found {close}",
                    open.column
                ),
            ),
        }
    }

    fn condition(&mut self) -> Result<Expr, QueryError> {
        let t = self.next();
        let Kind::Word(word) = &t.kind else {
            let example = "attribute:ecs.instance-type == t2.small";
            return err(
                t.column,
                format!("expected a condition such as '{example}', found {t}"),
            );
        };
        let subject = parse_subject(word, t.column)?;
        let op_token = self.next();
        let op = match &op_token.kind {
            Kind::Word(text) => Op::from_token(text),
            Kind::Sym(text) => Op::from_token(text),
            _ => None,
        };
        let Some(op) = op else {
            let message = format!(
                "expected an operator (==, !=, in, exists, …) after '{word}', found {op_token}"
            );
            return err(op_token.column, message);
        };
        let args = match op {
            Op::Exists | Op::NotExists => Vec::new(),
            Op::In | Op::NotIn => self.list(&op_token)?,
            _ => vec![self.value(&op_token)?],
        };
        Ok(Expr::Cond(Condition {
            subject,
            op,
            args,
            column: t.column,
        }))
    }

    fn value(&mut self, after: &Token) -> Result<String, QueryError> {
        let t = self.next();
        match t.kind {
            Kind::Word(v) | Kind::Quoted(v) => Ok(v),
            _ => err(
                t.column,
                format!("expected a value after {after}, found {t}"),
            ),
        }
    }

    /// `(a, b)` or, as the ECS docs write it, `[a, b]`.
    fn list(&mut self, after: &Token) -> Result<Vec<String>, QueryError> {
        let open = self.next();
        let close = match () {
            _ if open.is("(") => ")",
            _ if open.is("[") => "]",
            _ => {
                let message = format!("expected a list such as (a, b) after {after}, found {open}");
                return err(open.column, message);
            }
        };
        let (mut values, mut previous) = (Vec::new(), open.clone());
        loop {
            values.push(self.value(&previous)?);
            previous = self.next();
            match previous.kind {
                _ if previous.is(",") => {}
                _ if previous.is(close) => return Ok(values),
                Kind::End => {
                    return err(
                        open.column,
                        format!("unbalanced bracket: this {open} is never closed"),
                    );
                }
                _ => {
                    let at = open.column;
                    let message = format!(
                        "expected ',' or '{close}' in the list opened at column {at}, \
                         found {previous}"
                    );
                    return err(previous.column, message);
                }
            }
        }
    }
}

fn parse_subject(word: &str, column: usize) -> Result<Subject, QueryError> {
    const PREFIX: &str = "attribute:";
    if let Some(name) = word.strip_prefix(PREFIX) {
        if name.is_empty() {
            return err(column, "missing attribute name after 'attribute:'");
        }
        // The lexer lets ':' and '*' into words (for values); they are not valid in names.
        let bad = name
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || ".-_/".contains(*c)));
        if let Some((i, c)) = bad {
            return err(
                column + PREFIX.len() + i,
                format!("unexpected {c:?} in attribute name '{name}'"),
            );
        }
        return Ok(Subject::Attribute(name.to_string()));
    }
    match word {
        "task:group" => Ok(Subject::TaskGroup),
        "agentConnected" | "agentVersion" | "ec2InstanceId" | "registeredAt"
        | "runningTasksCount" => Ok(Subject::Other(word.to_string())),
        _ if word.starts_with("ecs.") => err(
            column,
            format!("unknown subject '{word}'; did you mean 'attribute:{word}'?"),
        ),
        _ => err(
            column,
            format!(
                "unknown subject '{word}'; expected attribute:NAME, task:group, agentConnected, \
                 agentVersion, ec2InstanceId, registeredAt or runningTasksCount"
            ),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Translation

/// The placement the expression asks for, in Kubernetes terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placement {
    /// ORed terms; empty = no node constraint.
    pub node_selector_terms: Vec<NodeSelectorTerm>,
    /// `task:group == X`: pods must co-locate with group X.
    pub pod_affinity_groups: Vec<String>,
    /// `task:group != X`: pods must not co-locate with group X.
    pub pod_anti_affinity_groups: Vec<String>,
}

/// Node label for an ECS attribute: the well-known ones map to Kubernetes well-known labels,
/// other `ecs.*` ones to `ecs-operator.io/<name>`, custom attributes to a label of the same name.
pub fn node_label(attribute: &str) -> String {
    match attribute {
        "ecs.instance-type" => "node.kubernetes.io/instance-type".into(),
        "ecs.availability-zone" => "topology.kubernetes.io/zone".into(),
        "ecs.os-type" | "ecs.os-family" => "kubernetes.io/os".into(),
        "ecs.cpu-architecture" => "kubernetes.io/arch".into(),
        _ => match attribute.strip_prefix("ecs.") {
            Some(rest) => format!("ecs-operator.io/{rest}"),
            None => attribute.into(),
        },
    }
}

/// The label value Kubernetes uses where ECS's differs (`x86_64`/`amd64`, `LINUX`/`linux`).
/// Lossy for Windows: every `WINDOWS_SERVER_*` family is just `windows` to Kubernetes, so
/// `!= WINDOWS_SERVER_2019_CORE` keeps off all Windows nodes.
fn node_value(attribute: &str, value: &str) -> String {
    match (attribute, value) {
        ("ecs.cpu-architecture", "x86_64") => "amd64".into(),
        ("ecs.os-family", "LINUX") => "linux".into(),
        ("ecs.os-family", v) if v.starts_with("WINDOWS_SERVER_") => "windows".into(),
        (_, v) => v.into(),
    }
}

/// Translate a parsed expression. The node part is the expression's disjunctive normal form, one
/// `NodeSelectorTerm` per conjunction (Kubernetes ORs terms and ANDs the requirements in one).
/// `task:group` conditions become pod (anti-)affinity, which always applies, so they must be
/// top-level conjuncts.
pub fn to_placement(expr: &Expr) -> Result<Placement, QueryError> {
    let mut conjuncts = Vec::new();
    split_and(expr, false, &mut conjuncts);
    let mut placement = Placement::default();
    // Start from the one empty conjunction ("true") and multiply each conjunct's DNF into it.
    let mut terms: Vec<Vec<NodeSelectorRequirement>> = vec![Vec::new()];
    for (e, negated) in conjuncts {
        if let Expr::Cond(c) = e
            && c.subject == Subject::TaskGroup
        {
            add_task_groups(c, c.op.negated_if(negated), &mut placement)?;
            continue;
        }
        let alternatives = dnf(e, negated)?;
        if terms.len() * alternatives.len() > MAX_TERMS {
            return err(first_column(e), too_many_terms());
        }
        terms = product(&terms, &alternatives);
    }
    placement.node_selector_terms = terms
        .into_iter()
        .filter(|t| !t.is_empty())
        .map(|t| NodeSelectorTerm {
            match_expressions: Some(t),
            ..Default::default()
        })
        .collect();
    Ok(placement)
}

/// The conjuncts of `expr` (negated when `negated`), seeing through `not` with De Morgan.
fn split_and<'a>(expr: &'a Expr, negated: bool, out: &mut Vec<(&'a Expr, bool)>) {
    match (expr, negated) {
        (Expr::Not(inner), _) => split_and(inner, !negated, out),
        (Expr::And(a, b), false) | (Expr::Or(a, b), true) => {
            split_and(a, negated, out);
            split_and(b, negated, out);
        }
        _ => out.push((expr, negated)),
    }
}

/// Disjunctive normal form of `expr` (negated when `negated`): ORed lists of ANDed requirements.
fn dnf(expr: &Expr, negated: bool) -> Result<Vec<Vec<NodeSelectorRequirement>>, QueryError> {
    let terms = match (expr, negated) {
        (Expr::Cond(c), _) => vec![vec![requirement(c, c.op.negated_if(negated))?]],
        (Expr::Not(inner), _) => dnf(inner, !negated)?,
        (Expr::And(a, b), false) | (Expr::Or(a, b), true) => {
            let (left, right) = (dnf(a, negated)?, dnf(b, negated)?);
            // Checked before multiplying, so the blow-up never gets allocated.
            if left.len() * right.len() > MAX_TERMS {
                return err(first_column(expr), too_many_terms());
            }
            product(&left, &right)
        }
        (Expr::Or(a, b), false) | (Expr::And(a, b), true) => {
            [dnf(a, negated)?, dnf(b, negated)?].concat()
        }
    };
    match terms.len() {
        n if n > MAX_TERMS => err(first_column(expr), too_many_terms()),
        _ => Ok(terms),
    }
}

/// (a ∨ b) ∧ (c ∨ d) = ac ∨ ad ∨ bc ∨ bd.
fn product<T: Clone>(left: &[Vec<T>], right: &[Vec<T>]) -> Vec<Vec<T>> {
    let pairs = left.iter().flat_map(|l| right.iter().map(move |r| (l, r)));
    pairs
        .map(|(l, r)| l.iter().chain(r).cloned().collect())
        .collect()
}

fn too_many_terms() -> String {
    format!(
        "expression expands to more than {MAX_TERMS} alternative node-selector terms (each 'or' \
         under an 'and' multiplies them); simplify it, e.g. with 'in (…)'"
    )
}

fn first_column(expr: &Expr) -> usize {
    match expr {
        Expr::Cond(c) => c.column,
        Expr::Not(e) | Expr::And(e, _) | Expr::Or(e, _) => first_column(e),
    }
}

/// `=~`/`!~` take Java regexes; node affinity compares whole values, so a pattern is accepted
/// only when it is plainly a literal. '.' passes: in values like `t2.small` it means a dot.
fn require_literal_pattern(c: &Condition) -> Result<(), QueryError> {
    let wildcard = c
        .args
        .iter()
        .find(|a| a.contains(|ch| "*+?[](){}|^$\\".contains(ch)));
    match wildcard {
        None => Ok(()),
        Some(pattern) => err(
            c.column,
            format!(
                "node affinity cannot match wildcards such as '{pattern}'; list the concrete \
                 values instead, e.g. '{} in (value1, value2)'",
                c.subject
            ),
        ),
    }
}

/// One condition, with its operator after negation, as a node-selector requirement.
fn requirement(c: &Condition, op: Op) -> Result<NodeSelectorRequirement, QueryError> {
    let attribute = match &c.subject {
        Subject::Attribute(a) => a,
        Subject::TaskGroup => {
            let message = "task:group must be joined to the rest of the expression by 'and' alone \
                (not under 'or' or a negated 'and'): Kubernetes pod affinity always applies, it \
                cannot be one of several alternatives";
            return err(c.column, message);
        }
        Subject::Other(name) => {
            return err(
                c.column,
                format!("'{name}' has no Kubernetes node-affinity equivalent"),
            );
        }
    };
    let (operator, values) = match op {
        Op::Exists => ("Exists", None),
        Op::NotExists => ("DoesNotExist", None),
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            // Kubernetes' Gt/Lt compare one integer and have no "or equal" form, hence the ±1.
            let n = c.args.first().and_then(|a| a.parse::<i64>().ok());
            let bound = match op {
                Op::Ge => n.and_then(|n| n.checked_sub(1)),
                Op::Le => n.and_then(|n| n.checked_add(1)),
                _ => n,
            };
            let Some(bound) = bound else {
                let (subject, found) = (&c.subject, c.args.join(", "));
                let message = format!(
                    "'{op}' on {subject} needs an integer for node affinity, found '{found}'"
                );
                return err(c.column, message);
            };
            let operator = if matches!(op, Op::Gt | Op::Ge) {
                "Gt"
            } else {
                "Lt"
            };
            (operator, Some(vec![bound.to_string()]))
        }
        Op::Eq | Op::In | Op::Matches | Op::Ne | Op::NotIn | Op::NotMatches => {
            if matches!(op, Op::Matches | Op::NotMatches) {
                require_literal_pattern(c)?;
            }
            let mut values: Vec<String> = Vec::new();
            for v in c.args.iter().map(|v| node_value(attribute, v)) {
                if !is_label_value(&v) {
                    let message = format!(
                        "'{v}' is not a valid Kubernetes label value (at most 63 letters, digits, \
                         '-', '_' or '.', beginning and ending with a letter or digit)"
                    );
                    return err(c.column, message);
                }
                // Several ECS values may share one label value (every WINDOWS_SERVER_* is windows).
                if !values.contains(&v) {
                    values.push(v);
                }
            }
            let positive = matches!(op, Op::Eq | Op::In | Op::Matches);
            (if positive { "In" } else { "NotIn" }, Some(values))
        }
    };
    Ok(NodeSelectorRequirement {
        key: node_label(attribute),
        operator: operator.into(),
        values,
    })
}

/// A top-level `task:group` condition as pod affinity (`==`) or anti-affinity (`!=`).
fn add_task_groups(c: &Condition, op: Op, placement: &mut Placement) -> Result<(), QueryError> {
    if matches!(op, Op::Matches | Op::NotMatches) {
        require_literal_pattern(c)?;
    }
    let groups = match op {
        Op::Eq | Op::Matches => &mut placement.pod_affinity_groups,
        Op::In if c.args.len() == 1 => &mut placement.pod_affinity_groups,
        // "Not next to a or b" is "not next to a and not next to b": one anti-affinity each.
        Op::Ne | Op::NotMatches | Op::NotIn => &mut placement.pod_anti_affinity_groups,
        Op::In => {
            let message = "task:group in (…) with several groups means 'next to any one of them', \
                which Kubernetes pod affinity cannot express; name a single group";
            return err(c.column, message);
        }
        _ => {
            return err(
                c.column,
                format!("task:group supports only ==, !=, in and not_in, not '{op}'"),
            );
        }
    };
    for g in &c.args {
        if !groups.contains(g) {
            groups.push(g.clone());
        }
    }
    Ok(())
}

/// Kubernetes label-value syntax, checked here so a bad value fails with a column, not at apply.
fn is_label_value(v: &str) -> bool {
    let alnum_edge = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    v.len() <= 63
        && alnum_edge(v.chars().next())
        && alnum_edge(v.chars().last())
        && v.chars().all(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TYPE: &str = "node.kubernetes.io/instance-type";
    const ZONE: &str = "topology.kubernetes.io/zone";

    /// A requirement; `Exists`/`DoesNotExist` carry no values.
    fn req(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
        let values = values.iter().map(|v| v.to_string()).collect();
        let values = (!operator.contains("Exist")).then_some(values);
        NodeSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values,
        }
    }

    /// The node-selector terms for `expr`, each given as its requirements.
    fn nodes(expr: &str) -> Vec<Vec<NodeSelectorRequirement>> {
        let placement =
            to_placement(&parse(expr).unwrap()).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let terms = placement.node_selector_terms.into_iter();
        terms
            .map(|t| t.match_expressions.unwrap_or_default())
            .collect()
    }

    fn place(expr: &str) -> Placement {
        to_placement(&parse(expr).unwrap()).unwrap()
    }

    /// The error for `expr`, from parsing or from translating, as "column N: message".
    fn error(expr: &str) -> String {
        parse(expr)
            .and_then(|e| to_placement(&e))
            .expect_err(expr)
            .to_string()
    }

    #[test]
    fn ecs_docs_examples() {
        let t2_small = vec![vec![req(TYPE, "In", &["t2.small"])]];
        assert_eq!(nodes("attribute:ecs.instance-type == t2.small"), t2_small);
        let zones = vec![vec![req(ZONE, "In", &["us-east-1a", "us-east-1b"])]];
        assert_eq!(
            nodes("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"),
            zones
        );
        assert_eq!(
            nodes("attribute:ecs.availability-zone in (us-east-1a,us-east-1b)"),
            zones
        );
        let not_small = vec![vec![req(TYPE, "NotIn", &["t2.small"])]];
        assert_eq!(
            nodes("not(attribute:ecs.instance-type == t2.small)"),
            not_small
        );
        assert_eq!(
            nodes(
                "attribute:ecs.os-type == linux and attribute:ecs.availability-zone != us-east-1d"
            ),
            vec![vec![
                req("kubernetes.io/os", "In", &["linux"]),
                req(ZONE, "NotIn", &["us-east-1d"])
            ]]
        );
        let (micro, small) = (
            req(TYPE, "In", &["t2.micro"]),
            req(TYPE, "In", &["t2.small"]),
        );
        let zone_a = req(ZONE, "In", &["us-east-1a"]);
        assert_eq!(
            nodes(
                "(attribute:ecs.instance-type == t2.micro or \
                 attribute:ecs.instance-type == t2.small) \
                 and attribute:ecs.availability-zone == us-east-1a"
            ),
            vec![vec![micro, zone_a.clone()], vec![small, zone_a]]
        );
        let group = place("task:group == service:production");
        assert_eq!(group.pod_affinity_groups, ["service:production"]);
        assert!(group.node_selector_terms.is_empty() && group.pod_anti_affinity_groups.is_empty());
        assert_eq!(
            place("not(task:group == database)").pod_anti_affinity_groups,
            ["database"]
        );
        let arm = vec![vec![req("kubernetes.io/arch", "In", &["arm64"])]];
        assert_eq!(nodes("attribute:ecs.cpu-architecture == arm64"), arm);
        assert_eq!(
            nodes("attribute:stack exists"),
            vec![vec![req("stack", "Exists", &[])]]
        );
        assert!(
            error("attribute:ecs.instance-type =~ g2.*")
                .starts_with("column 1: node affinity cannot match wildcards such as 'g2.*'")
        );
        let t2_star =
            "attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d";
        assert!(error(t2_star).ends_with("e.g. 'attribute:ecs.instance-type in (value1, value2)'"));
        let no_equivalent =
            "column 1: 'runningTasksCount' has no Kubernetes node-affinity equivalent";
        assert_eq!(error("runningTasksCount == 1"), no_equivalent);
        assert!(
            error("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']")
                .contains("'ec2InstanceId' has no")
        );
    }

    #[test]
    fn every_operator_spelling() {
        for (op, symbol, word) in OPS {
            let args: Vec<String> = match op {
                Op::Exists | Op::NotExists => vec![],
                Op::In | Op::NotIn => vec!["5".into(), "6 7".into()],
                _ => vec!["5".into()],
            };
            let arg = match args.len() {
                0 => String::new(),
                1 => " 5".into(),
                _ => " [5, \"6 7\"]".into(),
            };
            let subject = Subject::Attribute("n".into());
            let expected = Ok(Expr::Cond(Condition {
                subject,
                op,
                args,
                column: 1,
            }));
            assert_eq!(
                parse(&format!("attribute:n {symbol}{arg}")),
                expected,
                "{symbol}"
            );
            assert_eq!(
                parse(&format!("attribute:n {word}{arg}")),
                expected,
                "{word}"
            );
            assert_eq!(op.negate().negate(), op);
            if !symbol.chars().all(char::is_alphabetic) {
                // Symbols need no surrounding space.
                assert_eq!(
                    parse(&format!("attribute:n{symbol}{}", arg.trim())),
                    expected,
                    "{symbol}"
                );
            }
        }
    }

    #[test]
    fn precedence_and_negation() {
        let c = |name: &str, column| {
            let subject = Subject::Attribute(name.into());
            Box::new(Expr::Cond(Condition {
                subject,
                op: Op::Exists,
                args: vec![],
                column,
            }))
        };
        // `and` binds tighter than `or`; `!`/`not` bind tightest.
        assert_eq!(
            parse("attribute:a exists || attribute:b exists && !attribute:c exists").unwrap(),
            Expr::Or(
                c("a", 1),
                Box::new(Expr::And(c("b", 23), Box::new(Expr::Not(c("c", 46)))))
            )
        );
        // not (a or b > 5) = a absent and b <= 5, i.e. b < 6.
        assert_eq!(
            nodes("not (attribute:a exists or attribute:b > 5)"),
            vec![vec![req("a", "DoesNotExist", &[]), req("b", "Lt", &["6"])]]
        );
        // not (a and b) = not a or not b: two terms.
        assert_eq!(
            nodes("!(attribute:a == x && attribute:b in (y, z))"),
            vec![
                vec![req("a", "NotIn", &["x"])],
                vec![req("b", "NotIn", &["y", "z"])]
            ]
        );
        assert_eq!(
            nodes("not not attribute:a == x"),
            vec![vec![req("a", "In", &["x"])]]
        );
    }

    #[test]
    fn translation_details() {
        assert_eq!(
            nodes("attribute:cores >= 4"),
            vec![vec![req("cores", "Gt", &["3"])]]
        );
        assert_eq!(
            nodes("attribute:cores <= 4"),
            vec![vec![req("cores", "Lt", &["5"])]]
        );
        let literal = vec![vec![req(TYPE, "In", &["t3.large"])]];
        assert_eq!(
            nodes("attribute:ecs.instance-type matches t3.large"),
            literal
        );
        let arch = vec![vec![req("kubernetes.io/arch", "NotIn", &["amd64"])]];
        assert_eq!(nodes("attribute:ecs.cpu-architecture != x86_64"), arch);
        let families = "attribute:ecs.os-family in \
                        (LINUX, WINDOWS_SERVER_2019_CORE, WINDOWS_SERVER_2022_FULL)";
        assert_eq!(
            nodes(families),
            vec![vec![req("kubernetes.io/os", "In", &["linux", "windows"])]]
        );
        let p = place(
            "task:group not_in (a, b) and attribute:ecs.ami-id == ami-1 and task:group in (c)",
        );
        assert_eq!(
            (p.pod_anti_affinity_groups, p.pod_affinity_groups),
            (vec!["a".into(), "b".into()], vec!["c".into()])
        );
        let ami = NodeSelectorTerm {
            match_expressions: Some(vec![req("ecs-operator.io/ami-id", "In", &["ami-1"])]),
            ..Default::default()
        };
        assert_eq!(p.node_selector_terms, [ami]);
        // A group next to an `or` of node terms is still a top-level conjunct.
        let p = place("task:group != db and (attribute:a == x or attribute:a == y)");
        assert_eq!(
            (
                p.pod_anti_affinity_groups.len(),
                p.node_selector_terms.len()
            ),
            (1, 2)
        );
    }

    #[test]
    fn node_labels() {
        let cases = [
            ("ecs.instance-type", TYPE),
            ("ecs.availability-zone", ZONE),
            ("ecs.os-type", "kubernetes.io/os"),
            ("ecs.os-family", "kubernetes.io/os"),
            ("ecs.cpu-architecture", "kubernetes.io/arch"),
            ("ecs.vpc-id", "ecs-operator.io/vpc-id"),
            ("ecs.subnet-id", "ecs-operator.io/subnet-id"),
            ("stack", "stack"),
            ("example.com/team", "example.com/team"),
        ];
        for (attribute, label) in cases {
            assert_eq!(node_label(attribute), label);
        }
    }

    #[test]
    fn parse_errors_point_at_the_right_column() {
        #[rustfmt::skip]
        let cases = [
            ("attribute:ecs.instance-type foo", 29, "expected an operator (==, !=, in, exists, …) after 'attribute:ecs.instance-type', found 'foo'"),
            ("attribute:stack == 'prod", 20, "unterminated quoted value: this ' is never closed"),
            ("(attribute:stack exists", 1, "unbalanced parenthesis: this '(' is never closed"),
            ("attribute:stack exists)", 23, "unbalanced parenthesis: this ')' has no matching '('"),
            ("", 1, "empty expression"),
            ("   ", 1, "empty expression"),
            ("attribute:a exists attribute:b exists", 20, "expected 'and' or 'or' before 'attribute:b'"),
            ("attribute:a == b AND attribute:c exists", 18, "unexpected 'AND'; keywords are lower-case"),
            ("attribute:a in (b, c", 16, "unbalanced bracket: this '(' is never closed"),
            ("attribute:a in (b, c]", 21, "expected ',' or ')' in the list opened at column 16, found ']'"),
            ("attribute:a in (b,)", 19, "expected a value after ',', found ')'"),
            ("attribute:a in b", 16, "expected a list such as (a, b) after 'in', found 'b'"),
            ("attribute:a ==", 15, "expected a value after '==', found the end of the expression"),
            ("attribute:a == b and", 21, "expected a condition such as"),
            ("attribute:a = b", 13, "unexpected character '='; use '==' to compare or '=~' to match"),
            ("attribute:a == b & attribute:c exists", 18, "unexpected character '&'; use '&&' or 'and'"),
            ("attribute:st@ck exists", 13, "unexpected character '@'"),
            ("attribute:st:ck exists", 13, "unexpected ':' in attribute name 'st:ck'"),
            ("attribute: exists", 1, "missing attribute name after 'attribute:'"),
            ("ecs.os-type == linux", 1, "unknown subject 'ecs.os-type'; did you mean 'attribute:ecs.os-type'?"),
            ("(attribute:a exists attribute:b exists)", 21, "expected 'and', 'or' or the ')' closing column 1"),
            ("!inventory == x", 2, "unknown subject 'inventory'"),
            // Columns count characters, not bytes.
            ("attribute:a == \"éé\" and x", 25, "unknown subject 'x'; expected attribute:NAME, task:group"),
        ];
        for (expr, column, message) in cases {
            assert!(
                error(expr).starts_with(&format!("column {column}: {message}")),
                "{expr}: {}",
                error(expr)
            );
        }
        let deep = format!("column 33: expression nests deeper than {MAX_DEPTH} levels");
        assert_eq!(error(&"(".repeat(40)), deep);
        assert_eq!(error(&"!".repeat(40)), deep);
        let long = "column 2001: expression is longer than ECS's 2000 characters";
        assert_eq!(error(&"a".repeat(MAX_LEN + 1)), long);
    }

    #[test]
    fn translation_errors_point_at_the_condition() {
        #[rustfmt::skip]
        let cases = [
            ("attribute:a == x and agentConnected == true", 22, "'agentConnected' has no Kubernetes"),
            ("attribute:a >= abc", 1, "'>=' on attribute:a needs an integer for node affinity, found 'abc'"),
            ("attribute:a < 9223372036854775807 or attribute:a <= 9223372036854775807", 38, "'<=' on attribute:a needs an integer"),
            ("attribute:a == 'x y'", 1, "'x y' is not a valid Kubernetes label value"),
            ("task:group exists", 1, "task:group supports only ==, !=, in and not_in, not 'exists'"),
            ("attribute:a exists or task:group == web", 23, "task:group must be joined to the rest"),
            ("not (task:group == web and attribute:a exists)", 6, "task:group must be joined"),
            ("task:group in (a, b)", 1, "task:group in (…) with several groups"),
            ("task:group =~ 'web-.*'", 1, "node affinity cannot match wildcards such as 'web-.*'"),
        ];
        for (expr, column, message) in cases {
            assert!(
                error(expr).starts_with(&format!("column {column}: {message}")),
                "{expr}: {}",
                error(expr)
            );
        }
        // Six independent two-way choices make 2^6 = 64 terms; the sixth one tips it over.
        let blowup = ["(attribute:a == x or attribute:b == y)"; 6].join(" and ");
        assert!(error(&blowup).starts_with("column 217: expression expands to more than 32"));
    }

    /// Errors, if any, point inside the expression or just past its end.
    fn check_no_panic(expr: &str) {
        let columns = 1..=expr.chars().count() + 1;
        if let Err(e) = parse(expr).and_then(|parsed| to_placement(&parsed)) {
            assert!(columns.contains(&e.column), "{expr:?}: {e}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_strings(expr in "\\PC{0,80}") {
            check_no_panic(&expr);
        }

        #[test]
        fn never_panics_on_token_soup(
            tokens in prop::collection::vec(prop::sample::select(vec![
                "attribute:ecs.instance-type", "attribute:stack", "task:group", "runningTasksCount",
                "==", "!=", ">", ">=", "<", "<=", "=~", "!~", "exists", "!exists", "in", "!in",
                "not_in", "and", "&&", "or", "||", "not", "!", "(", ")", "[", "]", ",", "t2.small",
                "5", "-3", "g2.*", "'quoted value'", "\"x\"", "'", "=", "é",
            ]), 0..24),
            spaced in any::<bool>(),
        ) {
            check_no_panic(&tokens.join(if spaced { " " } else { "" }));
        }
    }
}
