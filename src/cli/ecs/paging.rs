//! Pagination of the list verbs as the AWS CLI does it (aws/aws-cli
//! `awscli/customizations/paginate.py`, and the "Pagination" page of the AWS CLI user guide):
//!
//! - no paging flag: every item (the CLI follows every `nextToken` itself);
//! - CLI-level `--max-items N` / `--starting-token T`: at most N items from T on, and, when
//!   items remain, `"NextToken"` in the output (botocore's `build_full_result`; the text output
//!   prints `NEXTTOKEN\t…` last). `--page-size` is the size of each call to the service — here
//!   the Kubernetes list `limit` of each page read ([`super::tolerant`]);
//! - API-level `--max-results N` / `--next-token T` (ListServicesRequest, ListTasksRequest,
//!   ListTaskDefinitionsRequest `maxResults`/`nextToken`): the CLI turns its own pagination off
//!   and prints the service's answer as it is: one page, `nextToken` in it when more remain.
//!   As in the CLI, mixing the two levels is refused.
//!
//! Tokens are opaque (base64url of a small JSON: the verb, and the sort key of the last item
//! returned), so a page continues after the item it ended on even when items were added or
//! removed in between. The Kubernetes `continue` token cannot be the ECS token: the items are
//! filtered by ECS cluster on the client and ordered as ECS orders them, neither of which a
//! Kubernetes list does, and a `continue` token expires with the API server's compaction.
//! Pure.

use serde_json::{Value, json};

/// The paging flags of a list verb, as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub max_items: Option<i64>,
    pub starting_token: Option<String>,
    pub page_size: Option<i64>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

/// What a list verb returns, from where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Paging {
    /// Every item.
    All,
    /// `--max-items` / `--starting-token`: `NextToken` (the CLI's member) when more remain.
    Cli {
        max_items: Option<usize>,
        after: Option<String>,
    },
    /// `--max-results` / `--next-token`: `nextToken` (the API's member) when more remain.
    Api {
        max_results: usize,
        after: Option<String>,
    },
}

/// A list verb, for its tokens and ECS's page size without `maxResults`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    ListServices,
    ListTasks,
    ListTaskDefinitions,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Verb::ListServices => "list-services",
            Verb::ListTasks => "list-tasks",
            Verb::ListTaskDefinitions => "list-task-definitions",
        }
    }

    /// The page ECS returns without `maxResults` (the requests' documentation: ListServices
    /// "up to 10 results", ListTasks and ListTaskDefinitions "up to 100 results").
    fn default_page(self) -> usize {
        match self {
            Verb::ListServices => 10,
            Verb::ListTasks | Verb::ListTaskDefinitions => 100,
        }
    }
}

/// The Kubernetes list `limit` of each page read without `--page-size`.
pub const DEFAULT_PAGE_SIZE: u32 = 500;

impl Flags {
    /// The Kubernetes list `limit` (`--page-size`, checked by [`Flags::paging`]).
    pub fn page_size(&self) -> u32 {
        self.page_size
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_PAGE_SIZE)
    }

    /// The paging the flags ask for, or what is wrong with them (naming the flag).
    pub fn paging(&self, verb: Verb) -> Result<Paging, String> {
        let positive = |flag: &str, n: Option<i64>| -> Result<Option<usize>, String> {
            match n {
                Some(n) if n < 1 => Err(format!("{flag} {n}: give a number of 1 or more")),
                Some(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
                None => Ok(None),
            }
        };
        positive("--page-size", self.page_size)?;
        let api = self.max_results.is_some() || self.next_token.is_some();
        if api {
            let cli: Vec<&str> = [
                ("--starting-token", self.starting_token.is_some()),
                ("--page-size", self.page_size.is_some()),
                ("--max-items", self.max_items.is_some()),
            ]
            .iter()
            .filter(|(_, given)| *given)
            .map(|(f, _)| *f)
            .collect();
            if !cli.is_empty() {
                // The AWS CLI's own refusal: the API's paging turns the CLI's off.
                return Err(format!(
                    "Cannot specify --no-paginate along with pagination arguments: {} (--max-results/--next-token page by hand; use either them or --max-items/--starting-token)",
                    cli.join(", ")
                ));
            }
            if let Some(n) = self.max_results
                && !(1..=100).contains(&n)
            {
                return Err(format!(
                    "InvalidParameterException: --max-results {n}: must be between 1 and 100 (as ECS requires)"
                ));
            }
            let after = match &self.next_token {
                Some(t) => Some(decode("--next-token", t, verb)?),
                None => None,
            };
            let max_results = self.max_results.map_or(verb.default_page(), |n| n as usize);
            return Ok(Paging::Api { max_results, after });
        }
        let max_items = positive("--max-items", self.max_items)?;
        let after = match &self.starting_token {
            Some(t) => Some(decode("--starting-token", t, verb)?),
            None => None,
        };
        if max_items.is_none() && after.is_none() {
            return Ok(Paging::All);
        }
        Ok(Paging::Cli { max_items, after })
    }
}

/// One page of `items` (each with its sort key, in output order: ascending, or descending when
/// `descending`), and the token of the rest.
pub fn page(
    items: Vec<(String, Value)>,
    paging: &Paging,
    descending: bool,
    verb: Verb,
) -> (Vec<Value>, Option<String>) {
    let (limit, after) = match paging {
        Paging::All => (usize::MAX, None),
        Paging::Cli { max_items, after } => (max_items.unwrap_or(usize::MAX), after.as_deref()),
        Paging::Api { max_results, after } => (*max_results, after.as_deref()),
    };
    let rest: Vec<(String, Value)> = items
        .into_iter()
        .filter(|(k, _)| {
            after.is_none_or(|a| {
                if descending {
                    k.as_str() < a
                } else {
                    k.as_str() > a
                }
            })
        })
        .collect();
    let more = rest.len() > limit;
    let taken: Vec<(String, Value)> = rest.into_iter().take(limit).collect();
    let token = more
        .then(|| taken.last().map(|(k, _)| encode(k, verb)))
        .flatten();
    (taken.into_iter().map(|(_, v)| v).collect(), token)
}

/// The answer `{key: items}` with the token where the paging puts it.
pub fn answer(key: &str, items: Vec<Value>, token: Option<String>, paging: &Paging) -> Value {
    let mut body = json!({ key: items });
    if let Some(t) = token {
        let member = match paging {
            Paging::Api { .. } => "nextToken",
            _ => "NextToken",
        };
        body[member] = json!(t);
    }
    body
}

/// The stderr line of a table answer that has more (tables have no room for the token).
pub fn note(body: &Value) -> String {
    match (body.get("NextToken"), body.get("nextToken")) {
        (Some(t), _) => format!(
            "NextToken: {} (more items: pass it as --starting-token)\n",
            t.as_str().unwrap_or_default()
        ),
        (None, Some(t)) => format!(
            "nextToken: {} (more items: pass it as --next-token)\n",
            t.as_str().unwrap_or_default()
        ),
        _ => String::new(),
    }
}

fn encode(after: &str, verb: Verb) -> String {
    let inner = json!({"v": 1, "verb": verb.name(), "after": after}).to_string();
    base64url(inner.as_bytes())
}

fn decode(flag: &str, token: &str, verb: Verb) -> Result<String, String> {
    let bad = |why: &str| {
        format!(
            "{flag} {token}: {why}; pass the token a previous `kubectl ecs {}` printed, unchanged, or leave the flag out to start from the first item",
            verb.name()
        )
    };
    let bytes = unbase64url(token).ok_or_else(|| bad("not a token kubectl ecs printed"))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|_| bad("not a token kubectl ecs printed"))?;
    if v["v"] != 1 {
        return Err(bad("not a token kubectl ecs printed"));
    }
    if v["verb"] != verb.name() {
        return Err(bad(&format!(
            "a token of {}, not of {}",
            v["verb"].as_str().unwrap_or("another verb"),
            verb.name()
        )));
    }
    v["after"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| bad("not a token kubectl ecs printed"))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648 §5): tokens are passed on command lines.
fn base64url(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn unbase64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let digits: Vec<u32> = s
        .bytes()
        .map(|c| ALPHABET.iter().position(|a| *a == c).map(|p| p as u32))
        .collect::<Option<_>>()?;
    for chunk in digits.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | (d << (18 - 6 * i)));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(keys: &[&str]) -> Vec<(String, Value)> {
        keys.iter().map(|k| (k.to_string(), json!(k))).collect()
    }

    fn cli(max_items: Option<i64>, starting_token: Option<String>) -> Paging {
        Flags {
            max_items,
            starting_token,
            ..Flags::default()
        }
        .paging(Verb::ListServices)
        .unwrap()
    }

    #[test]
    fn base64url_round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "{\"after\":\"web\"}"] {
            assert_eq!(unbase64url(&base64url(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(base64url(b"ab?"), "YWI_");
        assert!(unbase64url("a").is_none() && unbase64url("a=b").is_none());
    }

    #[test]
    fn max_items_pages_with_a_next_token_until_the_last_item() {
        let all = items(&["a", "b", "c", "d", "e"]);
        let (first, token) = page(all.clone(), &cli(Some(2), None), false, Verb::ListServices);
        assert_eq!(first, [json!("a"), json!("b")]);
        let (second, token) = page(all.clone(), &cli(Some(2), token), false, Verb::ListServices);
        assert_eq!(second, [json!("c"), json!("d")]);
        let (last, token) = page(all.clone(), &cli(Some(2), token), false, Verb::ListServices);
        assert_eq!((last, token), (vec![json!("e")], None));
        // Exactly max-items left: no token (botocore sets none when nothing remains).
        let (two, none) = page(
            items(&["a", "b"]),
            &cli(Some(2), None),
            false,
            Verb::ListServices,
        );
        assert_eq!((two.len(), none), (2, None));
        // An item removed meanwhile does not shift the next page.
        let (_, token) = page(all.clone(), &cli(Some(2), None), false, Verb::ListServices);
        let fewer = items(&["a", "c", "d", "e"]);
        let (next, _) = page(fewer, &cli(Some(2), token), false, Verb::ListServices);
        assert_eq!(next, [json!("c"), json!("d")]);
        // Newest first (list-task-definitions --sort DESC).
        let desc = items(&["c", "b", "a"]);
        let (one, token) = page(desc.clone(), &cli(Some(1), None), true, Verb::ListServices);
        let (two, _) = page(desc, &cli(Some(1), token), true, Verb::ListServices);
        assert_eq!((one, two), (vec![json!("c")], vec![json!("b")]));
    }

    #[test]
    fn the_api_level_flags_page_as_ecs_with_its_default_page_size() {
        let p = Flags {
            max_results: Some(2),
            ..Flags::default()
        }
        .paging(Verb::ListTasks)
        .unwrap();
        let (got, token) = page(items(&["a", "b", "c"]), &p, false, Verb::ListTasks);
        assert_eq!(got.len(), 2);
        let body = answer("taskArns", got, token, &p);
        assert!(body["nextToken"].is_string() && body.get("NextToken").is_none());
        let only_token = Flags {
            next_token: body["nextToken"].as_str().map(str::to_string),
            ..Flags::default()
        };
        assert!(matches!(
            only_token.paging(Verb::ListTasks).unwrap(),
            Paging::Api { max_results: 100, after: Some(a) } if a == "b"
        ));
        let cli_body = answer("serviceArns", vec![], Some("t".into()), &cli(Some(1), None));
        assert_eq!(cli_body["NextToken"], "t");
        assert!(note(&cli_body).contains("--starting-token"));
    }

    #[test]
    fn bad_paging_flags_are_refused_naming_the_flag() {
        let err = |f: Flags, verb: Verb| f.paging(verb).unwrap_err();
        let e = err(
            Flags {
                starting_token: Some("garbage!".into()),
                ..Flags::default()
            },
            Verb::ListServices,
        );
        assert!(
            e.starts_with("--starting-token garbage!: not a token"),
            "{e}"
        );
        let e = err(
            Flags {
                next_token: Some(base64url(b"{\"v\":1}")),
                ..Flags::default()
            },
            Verb::ListTasks,
        );
        assert!(e.starts_with("--next-token "), "{e}");
        // A token of another verb.
        let (_, token) = page(
            items(&["a", "b"]),
            &cli(Some(1), None),
            false,
            Verb::ListServices,
        );
        let e = err(
            Flags {
                starting_token: token,
                ..Flags::default()
            },
            Verb::ListTasks,
        );
        assert!(
            e.contains("a token of list-services, not of list-tasks"),
            "{e}"
        );
        let e = err(
            Flags {
                max_results: Some(101),
                ..Flags::default()
            },
            Verb::ListTasks,
        );
        assert!(
            e.contains("--max-results 101: must be between 1 and 100"),
            "{e}"
        );
        let e = err(
            Flags {
                max_items: Some(0),
                ..Flags::default()
            },
            Verb::ListTasks,
        );
        assert!(e.starts_with("--max-items 0:"), "{e}");
        let e = err(
            Flags {
                max_results: Some(5),
                max_items: Some(5),
                ..Flags::default()
            },
            Verb::ListTasks,
        );
        assert!(
            e.starts_with(
                "Cannot specify --no-paginate along with pagination arguments: --max-items"
            ),
            "{e}"
        );
        assert_eq!(Flags::default().paging(Verb::ListTasks), Ok(Paging::All));
        assert_eq!(Flags::default().page_size(), DEFAULT_PAGE_SIZE);
    }
}
