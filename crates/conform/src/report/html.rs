//! The static HTML page: counts, then every case in a table, each with its
//! details (what it sends, RFC 6455's requirement, how it is judged, the
//! frames exchanged, the serial lines) in a `<details>` element. One file,
//! readable offline: no script, no external style or font.

use std::fmt::Write as _;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::{Counts, Meta, by_category, transcript};
use crate::drive::CaseResult;
use crate::judge::{Behavior, CloseBehavior};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left}
th{background:#f4f4f4}td.n{text-align:right}pre{background:#f8f8f8;padding:.5em;overflow-x:auto;font-size:90%}
.OK{background:#c8f0c8}.NON-STRICT{background:#f0f0a0}.INFORMATIONAL{background:#d8e4f8}.UNIMPLEMENTED{background:#e4e4e4}.FAILED{background:#f4b8b8}
.CLEAN{background:#c8f0c8}.WRONG-CODE{background:#f0f0a0}.UNCLEAN{background:#f8d8a8}.NEVER-CLOSED{background:#f4b8b8}.N-A{background:#eee}
summary{cursor:pointer}dt{font-weight:bold}dd{margin:0 0 .5em 1em}";

fn class(name: &str) -> String {
    name.replace([' ', '/'], "-")
}

pub fn html(meta: &Meta, results: &[CaseResult]) -> String {
    let mut s = String::new();
    let total = Counts::of(results);
    let title = format!("RFC 6455 conformance: {}", meta.profile);
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>",
        text(&title)
    );
    let _ = writeln!(s, "<h1>{}</h1>", text(&title));
    let _ = writeln!(
        s,
        "<p>{} cases of <code>esp-ws conform</code>. Target: {}; endpoint <code>{}</code>, numbered as Autobahn|Testsuite numbers its server cases (H: the opening handshake). <strong>{}</strong>.</p>",
        total.cases,
        text(&meta.target),
        text(&meta.path),
        text(&total.line())
    );
    let cats = by_category(results);
    let _ = writeln!(s, "<table>\n<tr><th>category</th><th>cases</th>");
    for b in Behavior::ALL {
        let _ = write!(s, "<th>{}</th>", b.name());
    }
    for k in CloseBehavior::ALL {
        let _ = write!(s, "<th>close {}</th>", text(k.name()));
    }
    let _ = writeln!(s, "</tr>");
    for (cat, rs) in &cats {
        let c = Counts::of(rs.iter().copied());
        let _ = write!(
            s,
            "<tr><td><a href=\"#cat-{n}\">{n} {}</a></td><td class=\"n\">{}</td>",
            text(cat.title()),
            c.cases,
            n = cat.number()
        );
        for n in c.behavior.iter().chain(&c.close) {
            let _ = write!(s, "<td class=\"n\">{n}</td>");
        }
        let _ = writeln!(s, "</tr>");
    }
    let _ = write!(s, "<tr><th>all</th><th class=\"n\">{}</th>", total.cases);
    for n in total.behavior.iter().chain(&total.close) {
        let _ = write!(s, "<th class=\"n\">{n}</th>");
    }
    let _ = writeln!(s, "</tr>\n</table>");
    for (cat, rs) in &cats {
        let _ = writeln!(
            s,
            "<h2 id=\"cat-{n}\">{n} {}</h2>\n<table>\n<tr><th>case</th><th>behaviour</th><th>close</th><th>what it sends, and the details</th></tr>",
            text(cat.title()),
            n = cat.number()
        );
        for r in rs {
            case_row(&mut s, r);
        }
        let _ = writeln!(s, "</table>");
    }
    let _ = writeln!(s, "</body>\n</html>");
    s
}

fn case_row(s: &mut String, r: &CaseResult) {
    let id = attr(&r.case.id);
    let b = r.verdict.behavior.name();
    let c = r.verdict.close.name();
    let _ = writeln!(
        s,
        "<tr id=\"case-{id}\"><td><a href=\"#case-{id}\">{}</a></td><td class=\"{}\">{b}</td><td class=\"{}\">{}</td><td><details><summary>{}</summary>",
        text(&r.case.id),
        class(b),
        class(c),
        text(c),
        text(&r.case.title)
    );
    let _ = writeln!(s, "<dl>");
    let mut item = |term: &str, desc: &str| {
        let _ = writeln!(s, "<dt>{}</dt><dd>{}</dd>", text(term), text(desc));
    };
    item("sends", &r.case.sends().join("; "));
    item("RFC 6455", r.case.rfc);
    item("judged", &r.case.judged());
    item(&format!("behaviour: {b}"), &r.verdict.reason);
    item(&format!("close: {c}"), &r.verdict.close_reason);
    let _ = writeln!(s, "</dl>");
    let t = transcript(r);
    if !t.is_empty() {
        let _ = writeln!(
            s,
            "<p>The exchange (&gt; client, &lt; server):</p><pre>{}</pre>",
            text(&t.join("\n"))
        );
    }
    if !r.observation.log.is_empty() {
        let _ = writeln!(
            s,
            "<p>Serial lines:</p><pre>{}</pre>",
            text(&r.observation.log.join("\n"))
        );
    }
    let _ = writeln!(s, "</details></td></tr>");
}
