//! `${name}` variables in scenario strings.
//!
//! Syntax: `${name}` is replaced by the value of variable `name`; `$$` is a
//! literal `$`; a `$` followed by anything else is kept as it is, so regex
//! anchors such as `done$` need no escaping. Variables are the named capture
//! groups of earlier `expect_log` / `expect_frame` regexes; the runner fills
//! the map as those steps match and calls [`substitute`] (or
//! [`substitute_regex`] for regex templates) just before a step runs.

use std::collections::HashMap;

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part<'a> {
    Literal(&'a str),
    Dollar,
    Var(&'a str),
}

fn parse(template: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        if at > 0 {
            parts.push(Part::Literal(&rest[..at]));
        }
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            parts.push(Part::Dollar);
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let Some(end) = tail.find('}') else {
                return Err(format!(
                    "unterminated `${{` in {template:?} (write `$$` for a literal `$`)"
                ));
            };
            let name = &tail[..end];
            if name.is_empty() {
                return Err(format!(
                    "empty variable name `${{}}` in {template:?} (write `$$` for a literal `$`)"
                ));
            }
            parts.push(Part::Var(name));
            rest = &tail[end + 1..];
        } else {
            parts.push(Part::Literal("$"));
            rest = after;
        }
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest));
    }
    Ok(parts)
}

/// The variable names a template refers to, in order of appearance (with repeats).
pub fn template_variables(template: &str) -> Result<Vec<String>, String> {
    Ok(parse(template)?
        .into_iter()
        .filter_map(|part| match part {
            Part::Var(name) => Some(name.to_owned()),
            _ => None,
        })
        .collect())
}

fn render(
    template: &str,
    vars: &HashMap<String, String>,
    value: impl Fn(&str) -> String,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    for part in parse(template)? {
        match part {
            Part::Literal(s) => out.push_str(s),
            Part::Dollar => out.push('$'),
            Part::Var(name) => match vars.get(name) {
                Some(v) => out.push_str(&value(v)),
                None => return Err(format!("undefined variable `${{{name}}}`")),
            },
        }
    }
    Ok(out)
}

/// Replaces `${name}` by `vars[name]` and `$$` by `$`.
///
/// Errors on an undefined variable or a malformed `${`. Validation already
/// guarantees that every name is defined by an earlier step, so at run time
/// an error here means that step's capture group did not participate in the
/// match.
pub fn substitute(template: &str, vars: &HashMap<String, String>) -> Result<String, String> {
    render(template, vars, str::to_owned)
}

/// Like [`substitute`], for regex templates: values are inserted escaped, so
/// a captured `a.b+c` matches itself and not `aXbbc`.
pub fn substitute_regex(template: &str, vars: &HashMap<String, String>) -> Result<String, String> {
    render(template, vars, regex::escape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> HashMap<String, String> {
        [("id", "42"), ("tok", "a.b+c")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn substitutes_variables_and_dollars() {
        let v = vars();
        assert_eq!(substitute("id=${id}!", &v).unwrap(), "id=42!");
        assert_eq!(substitute("${id}${id}", &v).unwrap(), "4242");
        assert_eq!(substitute("cost $$5", &v).unwrap(), "cost $5");
        assert_eq!(substitute("$${id}", &v).unwrap(), "${id}");
        assert_eq!(substitute("done$", &v).unwrap(), "done$");
        assert_eq!(substitute("a$b", &v).unwrap(), "a$b");
        assert_eq!(substitute("", &v).unwrap(), "");
        assert_eq!(substitute("ünï ${id} cödé", &v).unwrap(), "ünï 42 cödé");
    }

    #[test]
    fn reports_bad_templates() {
        let v = vars();
        assert_eq!(
            substitute("x ${nope}", &v).unwrap_err(),
            "undefined variable `${nope}`"
        );
        assert_eq!(
            substitute("x ${id", &v).unwrap_err(),
            "unterminated `${` in \"x ${id\" (write `$$` for a literal `$`)"
        );
        assert!(
            substitute("${}", &v)
                .unwrap_err()
                .starts_with("empty variable name")
        );
    }

    #[test]
    fn regex_values_are_escaped() {
        let v = vars();
        assert_eq!(substitute_regex("^t=${tok}$", &v).unwrap(), r"^t=a\.b\+c$");
        assert_eq!(substitute("^t=${tok}$", &v).unwrap(), "^t=a.b+c$");
    }

    #[test]
    fn lists_variables() {
        assert_eq!(
            template_variables("${a} $$ ${b} ${a} $").unwrap(),
            vec!["a", "b", "a"]
        );
        assert!(template_variables("plain").unwrap().is_empty());
    }
}
