//! The JSONPath subset CRD printer columns use: `.a.b`, `['a.b']`, `[0]`, `[-1]`, `[*]` and
//! filters like `[?(@.type=="Ready")]`. Entry points: [`JsonPath::parse`], [`JsonPath::find`].

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonPathError {
    #[error("empty path")]
    Empty,
    #[error("unexpected {found:?} at byte {at}")]
    Unexpected { found: char, at: usize },
    #[error("unterminated {0}")]
    Unterminated(&'static str),
    #[error("unsupported expression {0:?}")]
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Wildcard,
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    path: Vec<String>,
    /// `None` tests only that the field exists.
    test: Option<(bool, Value)>,
}

/// A parsed path; evaluating it never fails, missing keys just yield no results.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses a path written as in a CRD's `jsonPath` (`.spec.replicas`), with or without the
    /// surrounding `{}` of kubectl's template syntax.
    pub fn parse(text: &str) -> Result<Self, JsonPathError> {
        let text = text.trim();
        let text = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text)
            .trim();
        let text = text.strip_prefix('$').unwrap_or(text);
        if text.is_empty() {
            return Err(JsonPathError::Empty);
        }
        let bytes = text.as_bytes();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'.' => {
                    if bytes.get(i + 1) == Some(&b'.') {
                        return Err(JsonPathError::Unsupported("..".to_owned()));
                    }
                    let start = i + 1;
                    let end = text[start..]
                        .find(['.', '['])
                        .map_or(text.len(), |n| start + n);
                    let name = &text[start..end];
                    if name == "*" {
                        steps.push(Step::Wildcard);
                    } else if !name.is_empty() {
                        steps.push(Step::Field(name.to_owned()));
                    }
                    i = end;
                }
                b'[' => {
                    let (step, next) = parse_bracket(text, i)?;
                    steps.push(step);
                    i = next;
                }
                _ => {
                    let found = text[i..].chars().next().unwrap_or('?');
                    return Err(JsonPathError::Unexpected { found, at: i });
                }
            }
        }
        Ok(JsonPath { steps })
    }

    /// Every value the path reaches in `root`, in document order.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for v in current {
                match step {
                    Step::Field(name) => next.extend(v.get(name.as_str())),
                    Step::Index(n) => {
                        if let Some(list) = v.as_array() {
                            let idx = if *n < 0 {
                                i64::try_from(list.len()).unwrap_or(i64::MAX) + n
                            } else {
                                *n
                            };
                            next.extend(usize::try_from(idx).ok().and_then(|i| list.get(i)));
                        }
                    }
                    Step::Wildcard => match v {
                        Value::Array(list) => next.extend(list.iter()),
                        Value::Object(map) => next.extend(map.values()),
                        _ => {}
                    },
                    Step::Filter(filter) => {
                        if let Some(list) = v.as_array() {
                            next.extend(list.iter().filter(|item| filter.matches(item)));
                        }
                    }
                }
            }
            current = next;
        }
        current
    }
}

impl Filter {
    fn matches(&self, item: &Value) -> bool {
        let found = self
            .path
            .iter()
            .try_fold(item, |cur, key| cur.get(key.as_str()));
        match (&self.test, found) {
            (None, found) => found.is_some(),
            (Some((equal, want)), Some(got)) => (got == want || numbers_equal(got, want)) == *equal,
            // A missing field is unequal to everything.
            (Some((equal, _)), None) => !*equal,
        }
    }
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y)
}

/// Parses the bracket starting at `start`; returns the step and the index after `]`.
fn parse_bracket(text: &str, start: usize) -> Result<(Step, usize), JsonPathError> {
    let body_start = start + 1;
    let rest = &text[body_start..];
    if let Some(quoted) = rest.strip_prefix(['\'', '"']) {
        let quote = rest.as_bytes()[0] as char;
        let close = quoted
            .find(quote)
            .ok_or(JsonPathError::Unterminated("quoted name"))?;
        let after = body_start + 1 + close + 1;
        if text.as_bytes().get(after) != Some(&b']') {
            return Err(JsonPathError::Unterminated("bracket"));
        }
        return Ok((Step::Field(quoted[..close].to_owned()), after + 1));
    }
    if let Some(expr) = rest.strip_prefix("?(") {
        let close = find_filter_end(expr).ok_or(JsonPathError::Unterminated("filter"))?;
        let after = body_start + 2 + close + 1;
        if text.as_bytes().get(after) != Some(&b']') {
            return Err(JsonPathError::Unterminated("filter"));
        }
        return Ok((Step::Filter(parse_filter(&expr[..close])?), after + 1));
    }
    let close = rest
        .find(']')
        .ok_or(JsonPathError::Unterminated("bracket"))?;
    let body = rest[..close].trim();
    let step = if body == "*" {
        Step::Wildcard
    } else {
        Step::Index(
            body.parse()
                .map_err(|_| JsonPathError::Unsupported(format!("[{body}]")))?,
        )
    };
    Ok((step, body_start + close + 1))
}

/// The index of the `)` closing a filter, skipping over quoted strings.
fn find_filter_end(expr: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in expr.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, ')') => return Some(i),
            (None, _) => {}
        }
    }
    None
}

fn parse_filter(expr: &str) -> Result<Filter, JsonPathError> {
    let unsupported = || JsonPathError::Unsupported(expr.to_owned());
    let (lhs, test) = match expr.find("==").or_else(|| expr.find("!=")) {
        Some(at) => {
            let equal = &expr[at..at + 2] == "==";
            let literal = expr[at + 2..].trim();
            let value = match literal.as_bytes().first() {
                Some(b'\'' | b'"') if literal.len() >= 2 && literal.ends_with(&literal[..1]) => {
                    Value::from(&literal[1..literal.len() - 1])
                }
                _ => serde_json::from_str(literal).map_err(|_| unsupported())?,
            };
            (expr[..at].trim(), Some((equal, value)))
        }
        None => (expr.trim(), None),
    };
    let path = lhs.strip_prefix("@.").ok_or_else(unsupported)?;
    if path.is_empty() || path.contains(['[', ' ', '(']) {
        return Err(unsupported());
    }
    Ok(Filter {
        path: path.split('.').map(str::to_owned).collect(),
        test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, v: &Value) -> Vec<Value> {
        JsonPath::parse(path)
            .unwrap()
            .find(v)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn fields_indexes_and_wildcards() {
        let v = json!({"spec": {"replicas": 3, "ports": [{"port": 80}, {"port": 443}]},
                       "metadata": {"labels": {"app.kubernetes.io/name": "web"}}});
        assert_eq!(find(".spec.replicas", &v), vec![json!(3)]);
        assert_eq!(find("{.spec.ports[1].port}", &v), vec![json!(443)]);
        assert_eq!(find(".spec.ports[-1].port", &v), vec![json!(443)]);
        assert_eq!(find(".spec.ports[*].port", &v), vec![json!(80), json!(443)]);
        assert_eq!(
            find(".metadata.labels['app.kubernetes.io/name']", &v),
            vec![json!("web")]
        );
        assert!(find(".spec.missing.deeper", &v).is_empty());
        assert!(find(".spec.ports[7]", &v).is_empty());
    }

    #[test]
    fn filters_select_list_items() {
        let v = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False"}, {"type": "Synced", "status": "True", "gen": 2}]}});
        assert_eq!(
            find(r#".status.conditions[?(@.type=="Ready")].status"#, &v),
            vec![json!("False")]
        );
        assert_eq!(
            find(".status.conditions[?(@.type!='Ready')].status", &v),
            vec![json!("True")]
        );
        assert_eq!(
            find(".status.conditions[?(@.gen==2)].type", &v),
            vec![json!("Synced")]
        );
        assert_eq!(
            find(".status.conditions[?(@.gen)].type", &v),
            vec![json!("Synced")]
        );
        assert_eq!(
            find(r#".status.conditions[?(@.type=="a)b")].type"#, &v),
            Vec::<Value>::new()
        );
    }

    #[test]
    fn malformed_paths_are_rejected() {
        for bad in [
            "",
            "{}",
            "spec",
            ".a[",
            ".a['x]",
            ".a[x]",
            "..a",
            ".a[?(@.b==)]",
            ".a[?(b==1)]",
            ".a[?(@.b==1]",
        ] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_paths_parse_or_fail_without_panicking(path in "[.\\[\\]?()@=!'\"*a-c0-9{}$ é-]{0,24}") {
            if let Ok(p) = JsonPath::parse(&path) {
                let _ = p.find(&json!({"a": [{"b": 1}, {"c": "x"}], "b": {"c": [1, 2]}}));
            }
        }
    }
}
