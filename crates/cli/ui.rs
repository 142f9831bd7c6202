//! How esp-ws's own output looks: colour (`--color`, `NO_COLOR`), the
//! colours of results and diffs, and progress while instances wait (a
//! spinner on a terminal, a line every few seconds in a CI log). The
//! library crates write plain text; colour is added here only.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anstyle::{AnsiColor, Style};
use esp_ws_runner::progress::{Progress, Wait};

/// `--color`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// Colour on a terminal, unless NO_COLOR is set (or TERM=dumb).
    #[default]
    Auto,
    Always,
    Never,
}

/// Sets the choice every later write through `anstream` follows.
pub fn init_color(when: ColorWhen) {
    let choice = match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

/// Whether what goes to stderr is coloured (for tracing's own writer).
pub fn stderr_colored() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
}

const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const BOLD: Style = Style::new().bold();

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// `error:` in bold red, for a diagnostic.
pub fn error_prefix() -> String {
    paint(RED.bold(), "error:")
}

/// A result line (`        PASS [ 0.010s] name`): its verdict word
/// coloured.
pub fn paint_status(line: &str) -> String {
    let word = line.trim_start();
    let Some((verdict, _)) = word.split_once(' ') else {
        return line.to_string();
    };
    let style = match verdict {
        "PASS" | "OK" => GREEN.bold(),
        "FAIL" | "FAILED" | "REGRESSED" => RED.bold(),
        "XFAIL" | "NON-STRICT" | "IMPROVED" => YELLOW.bold(),
        "SKIP" => CYAN,
        _ => return line.to_string(),
    };
    let at = line.len() - word.len();
    format!(
        "{}{}{}",
        &line[..at],
        paint(style, verdict),
        &line[at + verdict.len()..]
    )
}

/// A failure's details: the header, what was expected and what came, and
/// the snapshot diff.
pub fn paint_details(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let t = body.trim_start();
        let style = if t.starts_with("--- FAIL") {
            Some(RED.bold())
        } else if t.starts_with("--- ") || t.starts_with("+++ ") {
            Some(BOLD)
        } else if t.starts_with("@@") {
            Some(CYAN)
        } else if t.starts_with('-') {
            Some(RED)
        } else if t.starts_with('+') {
            Some(GREEN)
        } else {
            None
        };
        match style {
            Some(s) => {
                let at = body.len() - t.len();
                out.push_str(&body[..at]);
                out.push_str(&paint(s, t));
            }
            None => out.push_str(body),
        }
        out.push_str(nl);
    }
    out
}

/// How often a CI log hears about a wait that goes on.
const LINE_EVERY: Duration = Duration::from_secs(5);
/// How long a wait lasts before a terminal shows a spinner for it.
const SPINNER_AFTER: Duration = Duration::from_millis(500);

struct Waiting {
    wait: Wait,
    since: Instant,
    last_line: Instant,
    bar: Option<indicatif::ProgressBar>,
}

struct Shared {
    waits: Mutex<BTreeMap<String, Waiting>>,
    /// Spinners, on a terminal.
    multi: Option<indicatif::MultiProgress>,
}

/// Shows what instances wait for while a run goes on, and prints the
/// run's own lines so that they do not tear a spinner.
pub struct ProgressView {
    shared: Arc<Shared>,
    /// Dropped to stop the ticker at once (it waits on the other end).
    stop: Option<std::sync::mpsc::Sender<()>>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl ProgressView {
    pub fn new() -> ProgressView {
        let multi = std::io::stderr().is_terminal().then(|| {
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())
        });
        let shared = Arc::new(Shared {
            waits: Mutex::new(BTreeMap::new()),
            multi,
        });
        let s = shared.clone();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let ticker = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                // Ticks until the view is dropped (the sender goes away).
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(Duration::from_millis(200))
                {
                    tick(&s, Instant::now());
                }
            })
            .ok();
        ProgressView {
            shared,
            stop: Some(stop),
            ticker,
        }
    }

    /// What the runner tells.
    pub fn progress(&self) -> Progress {
        let s = self.shared.clone();
        Progress::new(move |instance, wait| {
            let mut waits = s.waits.lock().unwrap();
            match wait {
                None => {
                    if let Some(w) = waits.remove(instance)
                        && let Some(b) = w.bar
                    {
                        b.finish_and_clear();
                    }
                }
                Some(wait) => {
                    let now = Instant::now();
                    match waits.get_mut(instance) {
                        Some(w) if w.wait.subject == wait.subject => w.wait = wait,
                        Some(w) => {
                            w.wait = wait;
                            w.since = now;
                            w.last_line = now;
                        }
                        None => {
                            waits.insert(
                                instance.to_string(),
                                Waiting {
                                    wait,
                                    since: now,
                                    last_line: now,
                                    bar: None,
                                },
                            );
                        }
                    }
                }
            }
        })
    }

    /// Prints a line of the run's output on stdout.
    pub fn println(&self, text: &str) {
        let print = || anstream::println!("{text}");
        match &self.shared.multi {
            Some(m) => m.suspend(print),
            None => print(),
        }
    }

    /// Prints text that ends with its own newline.
    pub fn print(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let print = || anstream::print!("{text}");
        match &self.shared.multi {
            Some(m) => m.suspend(print),
            None => print(),
        }
    }
}

impl Drop for ProgressView {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        for (_, w) in std::mem::take(&mut *self.shared.waits.lock().unwrap()) {
            if let Some(b) = w.bar {
                b.finish_and_clear();
            }
        }
    }
}

/// `booting: a WebSocket handshake with 10.0.0.2:80, attempt 3`.
fn describe(w: &Wait) -> String {
    match &w.detail {
        Some(d) => format!("{}: {d}", w.subject),
        None => w.subject.clone(),
    }
}

fn tick(s: &Shared, now: Instant) {
    let mut waits = s.waits.lock().unwrap();
    for (instance, w) in waits.iter_mut() {
        let waited = now.duration_since(w.since);
        match &s.multi {
            Some(multi) => {
                if w.bar.is_none() && waited >= SPINNER_AFTER {
                    let b = multi.add(indicatif::ProgressBar::new_spinner());
                    b.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{spinner} {prefix} {elapsed}: {wide_msg}",
                        )
                        .expect("valid template"),
                    );
                    b.set_prefix(instance.clone());
                    b.set_elapsed(waited);
                    b.enable_steady_tick(Duration::from_millis(120));
                    w.bar = Some(b);
                }
                if let Some(b) = &w.bar {
                    b.set_message(describe(&w.wait));
                }
            }
            None => {
                if waited >= LINE_EVERY && now.duration_since(w.last_line) >= LINE_EVERY {
                    w.last_line = now;
                    anstream::eprintln!(
                        "{} {instance} for {}s: {}",
                        paint(CYAN.bold(), &format!("{:>12}", "Waiting")),
                        waited.as_secs(),
                        describe(&w.wait)
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(s: &str) -> String {
        anstream::adapter::strip_str(s).to_string()
    }

    #[test]
    fn painting_keeps_the_text_and_colours_only_the_verdict_and_diff_lines() {
        let line = "        PASS [   0.010s] frame-echo-text";
        let p = paint_status(line);
        assert_eq!(strip(&p), line);
        assert!(p.contains(&paint(GREEN.bold(), "PASS")), "{p:?}");
        assert_eq!(
            paint_status("   Starting 3 scenarios"),
            "   Starting 3 scenarios"
        );
        let details = "--- FAIL x (a.json, on sim#1)\n    expected:\n      - a\n    got:\n      + b\n    @@ -1 +1 @@\n    I (1) plain\n";
        let p = paint_details(details);
        assert_eq!(strip(&p), details);
        assert!(p.contains(&paint(RED, "- a")), "{p:?}");
        assert!(p.contains(&paint(GREEN, "+ b")), "{p:?}");
        assert!(p.contains("    I (1) plain\n"), "{p:?}");
    }

    #[test]
    fn a_ci_log_hears_of_a_long_wait_every_few_seconds_with_what_and_how_long() {
        let s = Shared {
            waits: Mutex::new(BTreeMap::new()),
            multi: None,
        };
        let t0 = Instant::now();
        s.waits.lock().unwrap().insert(
            "board#1".into(),
            Waiting {
                wait: Wait::new("booting").detail("attempt 1"),
                since: t0,
                last_line: t0,
                bar: None,
            },
        );
        tick(&s, t0 + Duration::from_secs(2));
        assert_eq!(s.waits.lock().unwrap()["board#1"].last_line, t0);
        tick(&s, t0 + Duration::from_secs(6));
        assert_eq!(
            s.waits.lock().unwrap()["board#1"].last_line,
            t0 + Duration::from_secs(6)
        );
        tick(&s, t0 + Duration::from_secs(8));
        assert_eq!(
            s.waits.lock().unwrap()["board#1"].last_line,
            t0 + Duration::from_secs(6)
        );
    }
}
