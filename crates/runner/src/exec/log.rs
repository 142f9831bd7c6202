//! `expect_log`: lines of the serial log, waited for in order (or, with
//! `not`, watched for and refused).

use super::*;

impl Ctx<'_> {
    pub(super) async fn expect_log(
        &mut self,
        e: &sc::ExpectLog,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        let pattern = sc::substitute_regex(&e.regex, &self.vars).map_err(Fail::msg)?;
        let re = Regex::new(&pattern)
            .map_err(|err| Fail::msg(format!("bad regex {pattern:?}: {err}")))?;
        let level = e.level.map(|l| l.letter());
        let tag = e.tag.clone();
        let matches = |l: &SerialLine| -> bool {
            match l.line.as_log() {
                Some(r) => {
                    level.is_none_or(|c| r.level.letter() == c)
                        && tag.as_deref().is_none_or(|t| r.tag == t)
                        && re.is_match(&r.message)
                }
                None => level.is_none() && tag.is_none() && re.is_match(&l.text()),
            }
        };
        let want = describe_expected_log(e, &pattern);
        if e.not {
            let seen = self.target.serial().lines(self.log_start, usize::MAX);
            if let Some(l) = seen.iter().find(|l| matches(l)) {
                return Err(Fail::diff(
                    "a log line that must not appear did",
                    format!("no line {want}"),
                    l.text(),
                ));
            }
            let from = self.target.serial().len();
            let until = tokio::time::Instant::now() + e.duration;
            if let Some(l) = self.target.serial().wait_for(from, until, matches).await {
                return Err(Fail::diff(
                    "a log line that must not appear did",
                    format!("no line {want}"),
                    l.text(),
                ));
            }
            return Ok(());
        }
        match self
            .target
            .serial()
            .wait_for(self.log_cursor, deadline, &matches)
            .await
        {
            Some(l) => {
                self.log_cursor = l.index + 1;
                let text = match l.line.as_log() {
                    Some(r) => r.message.clone(),
                    None => l.text(),
                };
                if let Some(c) = re.captures(&text) {
                    self.capture(&re, &c);
                }
                Ok(())
            }
            None => {
                // What came instead, at the scenario's level (or the
                // awaited line's, if more verbose): a debug-level firmware
                // buries the line that matters among its own.
                let shown = e.level.map_or(self.log_level, |l| l.max(self.log_level));
                let lines = self.target.serial().lines(self.log_cursor, usize::MAX);
                let recent: Vec<String> = lines
                    .iter()
                    .filter(|l| l.line.as_log().is_none_or(|r| r.level.shows_at(shown)))
                    .map(|l| l.text())
                    .collect();
                let hidden = lines.len() - recent.len();
                const MAX: usize = 30;
                let mut got: Vec<String> = Vec::new();
                if recent.len() > MAX {
                    got.push(format!("({} earlier lines)", recent.len() - MAX));
                }
                got.extend(
                    recent
                        .iter()
                        .skip(recent.len().saturating_sub(MAX))
                        .cloned(),
                );
                if hidden > 0 {
                    got.push(format!(
                        "({hidden} more verbose lines than {} not shown; the artifacts have them all)",
                        shown.name()
                    ));
                }
                let got = if got.is_empty() {
                    "(no new serial output)".to_string()
                } else {
                    got.join("\n")
                };
                Err(Fail::diff(
                    "the expected log line did not appear",
                    format!("a line {want}"),
                    got,
                ))
            }
        }
    }
}

fn describe_expected_log(e: &sc::ExpectLog, pattern: &str) -> String {
    let mut s = format!("matching /{pattern}/");
    if let Some(l) = e.level {
        s.push_str(&format!(" at level {}", l.letter()));
    }
    if let Some(t) = &e.tag {
        s.push_str(&format!(" with tag {t:?}"));
    }
    s
}
