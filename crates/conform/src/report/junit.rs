//! JUnit XML (quick-junit): a testsuite per category, a testcase per case;
//! FAILED is a failure, the exchange and the serial lines are its output.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Meta, by_category, transcript};
use crate::drive::CaseResult;
use crate::judge::Behavior;

pub fn junit(meta: &Meta, results: &[CaseResult], elapsed: std::time::Duration) -> String {
    let mut report = Report::new(format!("esp-ws conform {}", meta.profile));
    report.set_time(elapsed);
    for (cat, rs) in by_category(results) {
        let mut suite = TestSuite::new(format!("{} {}", cat.number(), cat.title()));
        for r in rs {
            let status = if r.verdict.behavior == Behavior::Failed {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(r.verdict.reason.clone());
                s.set_type("FAILED");
                s.set_description(format!(
                    "{}\nclose: {} ({})",
                    r.case.judged(),
                    r.verdict.close.name(),
                    r.verdict.close_reason
                ));
                s
            } else {
                TestCaseStatus::success()
            };
            let mut tc = TestCase::new(format!("{} {}", r.case.id, r.case.title), status);
            tc.set_classname(format!("{}.{}", meta.profile, cat.title()));
            tc.set_time(r.elapsed);
            let mut out = vec![format!(
                "{} / {}: {}",
                r.verdict.behavior.name(),
                r.verdict.close.name(),
                r.verdict.reason
            )];
            out.extend(transcript(r));
            if !r.observation.log.is_empty() {
                out.push("serial:".into());
                out.extend(r.observation.log.iter().map(|l| format!("  {l}")));
            }
            tc.set_system_out(out.join("\n"));
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
    }
    report.to_string().expect("JUnit XML")
}
