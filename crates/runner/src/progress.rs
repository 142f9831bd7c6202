//! What each instance is waiting for, told to whoever shows progress. The
//! runner says what it waits for (a boot, a board's handshake, a step);
//! the front end decides how to show it (a spinner on a terminal, a line
//! every few seconds in a CI log).

use std::sync::Arc;

/// What an instance waits for: `subject` names the wait (how long it has
/// lasted is counted from when the subject changed), `detail` says how it
/// is going (the attempt, the last serial line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    pub subject: String,
    pub detail: Option<String>,
}

impl Wait {
    pub fn new(subject: impl Into<String>) -> Wait {
        Wait {
            subject: subject.into(),
            detail: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Wait {
        self.detail = Some(detail.into());
        self
    }
}

/// One change: `None` when the instance stopped waiting.
pub type Listener = dyn Fn(&str, Option<Wait>) + Send + Sync;

/// Where progress goes (nowhere by default).
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<Listener>>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(shown)"
        } else {
            "Progress(none)"
        })
    }
}

impl Progress {
    pub fn new(listener: impl Fn(&str, Option<Wait>) + Send + Sync + 'static) -> Progress {
        Progress(Some(Arc::new(listener)))
    }

    /// `instance` now waits for `what` (built only when someone listens).
    pub fn waiting(&self, instance: &str, what: impl FnOnce() -> Wait) {
        if let Some(l) = &self.0 {
            l(instance, Some(what()));
        }
    }

    /// `instance` waits for nothing any more.
    pub fn done(&self, instance: &str) {
        if let Some(l) = &self.0 {
            l(instance, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_listener_hears_waits_and_their_end_and_silence_costs_nothing() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = heard.clone();
        let p = Progress::new(move |i, w| h.lock().unwrap().push((i.to_string(), w)));
        p.waiting("board#1", || Wait::new("booting").detail("attempt 2"));
        p.done("board#1");
        assert_eq!(
            *heard.lock().unwrap(),
            [
                (
                    "board#1".to_string(),
                    Some(Wait {
                        subject: "booting".into(),
                        detail: Some("attempt 2".into())
                    })
                ),
                ("board#1".to_string(), None)
            ]
        );
        Progress::default().waiting("x", || unreachable!("nobody listens"));
    }
}
