//! `expect_log`: a serial-log line to wait for, or to refuse.

use super::*;

pub(super) fn expect_log(ctx: &mut Ctx<'_>, b: &[PathSegment], r: RawExpectLog) -> ExpectLog {
    let defined = ctx.regex(&at(b, "regex"), &r.regex);
    let not = r.not.unwrap_or(false);
    if !not {
        if r.for_ms.is_some() {
            ctx.error(
                &at(b, "for_ms"),
                "`for_ms` is only for `not: true` (use `timeout_ms` to bound the wait for a line)",
            );
        }
    } else if r.timeout_ms.is_some() {
        // With `not` nothing is waited for; `for_ms` is the watch time.
        ctx.error(
            &at(b, "timeout_ms"),
            "`timeout_ms` has no effect with `not: true` (use `for_ms` to watch for a while)",
        );
    }
    let duration = r
        .for_ms
        .map(|ms| ctx.millis(&at(b, "for_ms"), ms, 0))
        .unwrap_or_default();
    let timeout = ctx.timeout(b, r.timeout_ms);
    // A line that must not appear has no match to capture from.
    if !not {
        define(ctx, defined);
    }
    ExpectLog {
        regex: r.regex,
        level: r.level.map(Level::from),
        tag: r.tag,
        timeout,
        not,
        duration,
    }
}
