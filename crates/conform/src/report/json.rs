//! JSON: one file per case (the case, the exchange, the serial lines, the
//! verdicts) and the run's results in one list.

use serde_json::json;

use super::{Counts, Meta};
use crate::drive::CaseResult;

pub fn case_json(meta: &Meta, r: &CaseResult) -> String {
    let v = json!({
        "profile": meta.profile,
        "target": meta.target,
        "id": r.case.id,
        "category": r.case.category.title(),
        "title": r.case.title,
        "rfc": r.case.rfc,
        "sends": r.case.sends(),
        "judged": r.case.judged(),
        "behavior": r.verdict.behavior,
        "reason": r.verdict.reason,
        "close": r.verdict.close,
        "close_reason": r.verdict.close_reason,
        "observation": r.observation,
    });
    let mut s = serde_json::to_string_pretty(&v).expect("JSON");
    s.push('\n');
    s
}

pub fn results_json(meta: &Meta, results: &[CaseResult]) -> String {
    let c = Counts::of(results);
    let v = json!({
        "profile": meta.profile,
        "target": meta.target,
        "path": meta.path,
        "cases": c.cases,
        "results": results.iter().map(|r| json!({
            "id": r.case.id,
            "title": r.case.title,
            "behavior": r.verdict.behavior,
            "close": r.verdict.close,
            "reason": r.verdict.reason,
        })).collect::<Vec<_>>(),
    });
    let mut s = serde_json::to_string_pretty(&v).expect("JSON");
    s.push('\n');
    s
}
