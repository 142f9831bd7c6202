//! UART0 of the simulated chip: what `ESP_LOGx` would print.
//!
//! The model never formats serial text itself; it hands [`Record`]s to the
//! console, which is the only place that decides whether a record is shown
//! (CONFIG_LOG_DEFAULT_LEVEL semantics: a threshold shows that level and every
//! more severe one), how its timestamp looks and whether it is coloured
//! (CONFIG_LOG_COLORS). This keeps the model's "events" separate from their
//! rendering, so debug-level internals can be added without touching how
//! info-level output looks.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use esp_ws_log::Level;

/// One `ESP_LOGx(tag, fmt, ...)` call, already formatted.
///
/// The message is bytes, not a `String`: software prints received payloads
/// with `%s`, so whatever the client sent (including non-UTF-8) goes to UART.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub level: Level,
    pub tag: &'static str,
    pub message: Vec<u8>,
}

/// Where serial bytes go (stdout of `esp-ws sim`, a channel of an in-process
/// target, a buffer in tests).
pub type SerialSink = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Millisecond clock of the chip, as `esp_log_timestamp()` reports it.
///
/// After the scheduler starts, ESP-IDF derives log timestamps from the
/// FreeRTOS tick count (`xTaskGetTickCount() * portTICK_PERIOD_MS`, see
/// components/log/src/os/log_timestamp.c), so with the default
/// CONFIG_FREERTOS_HZ=100 every timestamp is a multiple of 10 ms; ESP-IDF's
/// documented output (fixtures/documented/) shows exactly that.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
    /// The chip reset: the tick count starts again from 0.
    fn reset(&self) {}
}

/// Wall-clock time since the simulated power-on, quantised to FreeRTOS ticks.
pub struct TickClock {
    start: Mutex<Instant>,
    tick_ms: u64,
}

impl TickClock {
    pub fn new(tick_hz: u64) -> Self {
        TickClock {
            start: Mutex::new(Instant::now()),
            tick_ms: 1000 / tick_hz.max(1),
        }
    }
}

impl Clock for TickClock {
    fn now_ms(&self) -> u64 {
        let ms = self.start.lock().unwrap().elapsed().as_millis() as u64;
        ms / self.tick_ms * self.tick_ms
    }

    fn reset(&self) {
        *self.start.lock().unwrap() = Instant::now();
    }
}

/// A clock that only moves when told to (deterministic tests).
#[derive(Default)]
pub struct ManualClock {
    ms: Mutex<u64>,
}

impl ManualClock {
    pub fn advance(&self, ms: u64) {
        *self.ms.lock().unwrap() += ms;
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        *self.ms.lock().unwrap()
    }
}

#[derive(Clone)]
pub struct Console {
    inner: Arc<ConsoleInner>,
}

struct ConsoleInner {
    level: Level,
    colors: bool,
    clock: Arc<dyn Clock>,
    sink: SerialSink,
    /// Set when the chip is powered off: a thread that is still unwinding
    /// must not print anything after the harness has stopped listening.
    muted: AtomicBool,
    /// Serialises whole lines, as the ESP-IDF log lock does.
    lock: Mutex<()>,
}

impl Console {
    pub fn new(level: Level, colors: bool, clock: Arc<dyn Clock>, sink: SerialSink) -> Self {
        Console {
            inner: Arc::new(ConsoleInner {
                level,
                colors,
                clock,
                sink,
                muted: AtomicBool::new(false),
                lock: Mutex::new(()),
            }),
        }
    }

    pub fn level(&self) -> Level {
        self.inner.level
    }

    pub fn enabled(&self, level: Level) -> bool {
        level.shows_at(self.inner.level)
    }

    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    pub fn mute(&self) {
        self.inner.muted.store(true, Ordering::SeqCst);
    }

    pub fn is_muted(&self) -> bool {
        self.inner.muted.load(Ordering::SeqCst)
    }

    /// After a reset the UART prints again, and timestamps restart.
    pub fn reset(&self) {
        self.inner.clock.reset();
        self.inner.muted.store(false, Ordering::SeqCst);
    }

    /// `ESP_LOGx`: prints `L (ts) tag: message` if the level is enabled.
    pub fn log(&self, record: Record) {
        if !self.enabled(record.level) || self.inner.muted.load(Ordering::SeqCst) {
            return;
        }
        let mut line = Vec::with_capacity(record.message.len() + 32);
        let color = if self.inner.colors {
            record.level.ansi_color()
        } else {
            None
        };
        if let Some(code) = color {
            line.extend_from_slice(format!("\x1b[0;{code}m").as_bytes());
        }
        line.extend_from_slice(
            format!(
                "{} ({}) {}: ",
                record.level.letter(),
                self.inner.clock.now_ms(),
                record.tag
            )
            .as_bytes(),
        );
        line.extend_from_slice(&record.message);
        // LOG_FORMAT appends LOG_RESET_COLOR to every line when colours are
        // on, D and V lines included, though they have no colour to reset.
        if self.inner.colors {
            line.extend_from_slice(b"\x1b[0m");
        }
        line.push(b'\n');
        self.write_raw(&line);
        // A task the writer created may run now (see the task module).
        super::task::line_written();
    }

    /// `printf()` (or `puts`, Lua's `print`) to stdout, which is UART0:
    /// the bytes as they are, whatever the log level. A task the writer
    /// created may run once a line is complete (see the task module).
    pub fn printf(&self, bytes: &[u8]) {
        if self.inner.muted.load(Ordering::SeqCst) {
            return;
        }
        self.write_raw(bytes);
        if bytes.contains(&b'\n') {
            super::task::line_written();
        }
    }

    /// Output that does not go through `ESP_LOGx` (panic handler, ROM).
    pub fn print_raw(&self, text: &[u8]) {
        if self.inner.muted.load(Ordering::SeqCst) {
            return;
        }
        self.write_raw(text);
    }

    fn write_raw(&self, bytes: &[u8]) {
        let _guard = self.inner.lock.lock().unwrap_or_else(|e| e.into_inner());
        (self.inner.sink)(bytes);
    }
}

/// `ESP_LOGx(TAG, fmt, ...)`.
#[macro_export]
macro_rules! log {
    ($con:expr, $lvl:ident, $tag:expr, $($arg:tt)*) => {{
        let con: &$crate::chip::console::Console = &$con;
        if con.enabled($crate::chip::console::Level::$lvl) {
            con.log($crate::chip::console::Record {
                level: $crate::chip::console::Level::$lvl,
                tag: $tag,
                message: format!($($arg)*).into_bytes(),
            });
        }
    }};
}
