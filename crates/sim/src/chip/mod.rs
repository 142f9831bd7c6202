//! The ESP32 as its software sees it: power, the CPU from reset to reset,
//! the mask ROM, UART0 (the console and its receive side), FreeRTOS tasks,
//! the heap, and the panic handler.
//!
//! The chip runs whatever is in flash through one entry point,
//! [`Software::main_task`], and knows nothing of the network stack, of
//! ESP-IDF's components or of the application. The software reaches the chip
//! through [`Services`]; layers that keep state of their own (the network
//! stack) register with [`Chip::on_halt`] and [`Chip::on_reset`] to be told
//! when the CPU stops and when it starts again from nothing.

pub mod console;
mod event_group;
mod queue;
mod task;
mod timer;
mod uart;

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use console::{Clock, Console, Level, SerialSink};

pub use event_group::EventGroup;
pub use queue::Queue;
pub use task::{blocking, when_blocked};
pub use timer::TimerHandle;
pub use uart::UartRx;

/// Largest block `calloc()` can return. ESP-IDF does not document a number;
/// this is an assumption of the model (an ESP32 running ESP-IDF's network
/// examples over Ethernet has a few hundred KiB of free DRAM, split into
/// regions), chosen so that 65535-byte WebSocket frames fit, as they do on
/// the real chip, and multi-megabyte ones do not.
pub const HEAP_LARGEST_FREE_BLOCK: usize = 110 * 1024;

/// What `esp_get_free_heap_size()` reports: an assumption of the model in
/// the range an ESP32 running ESP-IDF v5 with the network up shows
/// (ESP-IDF documents no number; hosts normalize the line).
pub const FREE_HEAP_SIZE: u32 = 245_760;

/// The software in flash. After every reset the chip runs
/// [`Software::main_task`] as its first task (ESP-IDF's `main_task`).
pub trait Software: Send + Sync {
    fn main_task(&self, chip: &Services);
}

pub struct Config {
    /// CONFIG_LOG_DEFAULT_LEVEL.
    pub log_level: Level,
    /// CONFIG_LOG_COLORS.
    pub log_colors: bool,
    /// The tick clock behind log timestamps.
    pub clock: Arc<dyn Clock>,
    /// What the chip does after a panic. ESP-IDF's default,
    /// CONFIG_ESP_SYSTEM_PANIC_PRINT_REBOOT, restarts it (false: it stays
    /// halted, which is what QEMU's `-no-reboot` shows a harness).
    pub reboot_on_panic: bool,
    /// UART0's receive side: what the host types into the console.
    pub uart_rx: Arc<UartRx>,
    /// Seeds `esp_random()` (tests); `None`: a seed of its own each
    /// power-on, as the hardware RNG is.
    pub random_seed: Option<u64>,
    /// Whose mask ROM runs first at each reset.
    pub rom: Rom,
}

/// The mask ROM that runs at each reset, and what of it the console shows.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Rom {
    /// The ESP32's (ECO3): its banner at 115200 baud ([`rom_banner`]).
    #[default]
    Esp32,
    /// The ESP8266's, for NodeMCU's ESP8266 firmware on the same model of
    /// tasks, timers and UART: its ROM (and the NONOS SDK before
    /// `user_init()` sets the UART to 115200) writes at 74880 baud, which
    /// a console at the firmware's 115200 shows as noise whose bytes no
    /// source gives; the model prints nothing for it.
    Esp8266,
}

/// Why the CPU last started, as the ROM prints it (`rst:0x..`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ResetReason {
    PowerOn,
    /// `esp_restart()`, which the panic handler calls after printing.
    SoftwareCpu,
}

impl ResetReason {
    /// The ESP32 ROM's name for the reason (`RESET_REASON` in the ROM's
    /// rtc.h: POWERON_RESET = 1, SW_CPU_RESET = 12).
    fn rom_text(self) -> &'static str {
        match self {
            ResetReason::PowerOn => "0x1 (POWERON_RESET)",
            ResetReason::SoftwareCpu => "0xc (SW_CPU_RESET)",
        }
    }
}

#[derive(Default)]
struct State {
    /// Boots so far (1 after power-on).
    boots: u32,
    /// The main task of this boot has returned.
    main_returned: bool,
    /// The application said it has started for good (`app_started`).
    app_started: bool,
    /// When this boot began (`esp_timer_get_time()` counts from here).
    booted_at: Option<Instant>,
    /// The panic handler has run; the CPU is about to reset.
    panicked: bool,
    /// Halted for good after a panic (no reboot configured).
    dead: bool,
    /// The power is being cut.
    off: bool,
    /// The tasks of this boot, and their threads.
    tasks: task::Tasks,
    /// Work handed from one task to another (a queue item, an armed
    /// timer) that has not been done yet: the chip is not idle while there
    /// is any.
    busy: usize,
    /// Incremented whenever work is handed over, so that a host can tell
    /// "quiet again" from "quiet since before".
    busy_epoch: u64,
    /// FreeRTOS software timers of this boot.
    timers: timer::Timers,
    /// Tasks in a timed wait (`vTaskDelay`, an event group wait with a
    /// timeout): not work in flight, but not "nothing happens" either.
    timed: usize,
    /// Incremented whenever a timed wait starts or ends, or bits are set.
    timed_epoch: u64,
    /// The state of `esp_random()`'s generator this power-on.
    random: u64,
    /// Levels the software drove its GPIO outputs to (`gpio_set_level`);
    /// a reset leaves every pin undriven.
    gpio: std::collections::BTreeMap<u32, u32>,
}

type Hook = Arc<dyn Fn() + Send + Sync>;

/// The chip's state, shared by the CPU thread, the tasks and the host: the
/// panic handler pulls the reset line, the CPU thread acts on it.
struct Shared {
    con: Console,
    uart_rx: Arc<UartRx>,
    reboot_on_panic: bool,
    rom: Rom,
    state: Mutex<State>,
    cv: Condvar,
    halt_hooks: Mutex<Vec<Hook>>,
    reset_hooks: Mutex<Vec<Hook>>,
    /// Queues of this boot, woken for good when the CPU stops.
    queues: Mutex<Vec<std::sync::Weak<dyn queue::Halt>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        self.cv.notify_all();
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }

    /// Waits until `done` holds, at most `timeout`.
    fn wait(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        while !done(&st) {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Waits without a deadline: only for the chip's own threads, whose
    /// condition is always made true by power-off.
    fn wait_forever<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        done: impl Fn(&State) -> bool,
    ) -> MutexGuard<'a, State> {
        while !done(&st) {
            st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st
    }

    /// Runs the hooks registered by the layers above, with no lock held.
    fn run_hooks(hooks: &Mutex<Vec<Hook>>) {
        let hooks = hooks.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for h in hooks {
            h();
        }
    }

    /// The CPU stops: every blocked call of the layers above returns, and
    /// so does every wait on a queue.
    fn halt_all(&self) {
        Shared::run_hooks(&self.halt_hooks);
        let queues: Vec<_> = {
            let mut q = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            q.retain(|w| w.strong_count() > 0);
            q.iter().filter_map(|w| w.upgrade()).collect()
        };
        for q in queues {
            q.halt();
        }
    }

    /// Work was handed to another task (see `State::busy`).
    fn work_posted(&self) {
        self.update(|st| {
            st.busy += 1;
            st.busy_epoch += 1;
        });
    }

    /// Work handed over earlier is done.
    fn work_done(&self, n: usize) {
        if n > 0 {
            self.update(|st| st.busy = st.busy.saturating_sub(n));
        }
    }
}

/// What the software can ask of the chip: its console and UART, tasks, the
/// heap, the panic handler, and what the chip is doing. A cheap handle.
#[derive(Clone)]
pub struct Services {
    shared: Arc<Shared>,
}

impl Services {
    /// UART0 as `ESP_LOGx` and `printf` write to it.
    pub fn console(&self) -> &Console {
        &self.shared.con
    }

    /// UART0's receive side (`stdin`).
    pub fn uart_rx(&self) -> &UartRx {
        &self.shared.uart_rx
    }

    /// `xTaskCreate()`: a task on its own thread. Created by a task, it
    /// first runs when its creator next writes a line to the UART (or
    /// blocks, or ends), and the creator goes on once it blocks; the reason
    /// is in chip/task.rs.
    pub fn create_task(&self, name: &str, f: impl FnOnce() + Send + 'static) {
        task::create(&self.shared, name, false, Box::new(f));
    }

    /// `calloc()`: fails when no free block is big enough. A zero-sized
    /// request returns NULL too (`heap_caps_calloc` with size 0).
    pub fn calloc(&self, size: u64) -> Option<Vec<u8>> {
        if size == 0 || size > HEAP_LARGEST_FREE_BLOCK as u64 {
            return None;
        }
        Some(vec![0; size as usize])
    }

    /// `esp_timer_get_time()`: the time since this boot began.
    pub fn uptime(&self) -> Duration {
        self.shared
            .read(|st| st.booted_at.map(|t| t.elapsed()).unwrap_or_default())
    }

    /// `esp_get_free_heap_size()`. ESP-IDF prints no number the model could
    /// take, so this is an assumption of the model ([`FREE_HEAP_SIZE`]).
    pub fn free_heap_size(&self) -> u32 {
        FREE_HEAP_SIZE
    }

    /// The application has started what it runs for good (a client's
    /// loop, say) and its `app_main()` will not return until that ends: a
    /// host waiting for the chip to boot stops waiting here, as it does
    /// when `app_main()` returns.
    pub fn app_started(&self) {
        self.shared.update(|st| st.app_started = true);
    }

    /// `vTaskDelay()`: the calling task sleeps (a timed wait).
    pub fn delay(&self, d: Duration) {
        event_group::delay(&self.shared, d);
    }

    /// `xEventGroupCreate()`: an event group of this boot.
    pub fn event_group_create(&self) -> EventGroup {
        EventGroup::new(self.shared.clone())
    }

    /// `esp_random()`: 32 random bits from the hardware RNG. A host may
    /// seed it ([`Config::random_seed`]) so that keys and masks repeat.
    pub fn esp_random(&self) -> u32 {
        let mut st = self.shared.lock();
        // splitmix64: a stand-in generator; only its randomness matters.
        st.random = st.random.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = st.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as u32
    }

    /// `esp_fill_random()`.
    pub fn fill_random(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(4) {
            let r = self.esp_random().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }

    /// ESP-IDF's panic handler (components/esp_system/panic.c
    /// `esp_panic_handler`): the "Guru Meditation Error" line, then the chip
    /// resets. The register dump and backtrace that follow on a real chip
    /// depend on the build (addresses, ELF hash), so the model prints none
    /// of them. Every task stops and nothing more is printed until the CPU
    /// thread resets the chip (or, with no reboot configured, never).
    pub fn panic(&self, core: u32, reason: &str, description: &str) {
        let con = &self.shared.con;
        con.print_raw(
            format!(
                "Guru Meditation Error: Core  {core} panic'ed ({reason}). {description}\r\n\r\n"
            )
            .as_bytes(),
        );
        con.print_raw(b"Rebooting...\r\n");
        con.mute();
        // The reset line first, so that nobody who sees the stack halt takes
        // the chip for idle.
        self.shared.update(|st| st.panicked = true);
        self.shared.halt_all();
    }

    /// `esp_restart()`: a software reset, with nothing printed before it
    /// (the ROM banner that follows says `rst:0xc (SW_CPU_RESET)`). Every
    /// task stops, as for a panic, and the chip boots again (or, with no
    /// reboot configured, stays halted, as QEMU's `-no-reboot` does).
    pub fn restart(&self) {
        self.shared.con.mute();
        self.shared.update(|st| st.panicked = true);
        self.shared.halt_all();
    }

    /// How many times the chip has booted (1 after power-on, one more per
    /// panic reboot).
    pub fn boots(&self) -> u32 {
        self.shared.read(|st| st.boots)
    }

    /// True while a panic has the chip halted: until it has rebooted and
    /// run its main task again, or for good when it does not reboot.
    pub fn crashed(&self) -> bool {
        self.shared.read(|st| st.panicked || st.dead)
    }

    /// True once the chip has halted for good (a panic, no reboot).
    pub fn halted(&self) -> bool {
        self.shared.read(|st| st.dead)
    }

    /// True between a panic and the reset that follows it.
    pub fn panicking(&self) -> bool {
        self.shared.read(|st| st.panicked)
    }

    /// True once the CPU is stopping: a panic, the power going, or halted
    /// for good. A task's loop ends then (every blocked call returns).
    pub fn halting(&self) -> bool {
        self.shared.read(|st| st.panicked || st.off || st.dead)
    }

    /// True once the chip has stopped for good: halted, or powered off.
    pub fn stopped(&self) -> bool {
        self.shared.read(|st| st.dead || st.off)
    }

    /// `gpio_set_level(pin, level)` on a pin configured as an output.
    pub fn gpio_set_level(&self, pin: u32, level: u32) {
        self.shared.update(|st| {
            st.gpio.insert(pin, level & 1);
        });
    }

    /// The level the software last drove `pin` to in this boot, if any
    /// (what a probe on the pin would see).
    pub fn gpio_level(&self, pin: u32) -> Option<u32> {
        self.shared.read(|st| st.gpio.get(&pin).copied())
    }

    /// `xQueueCreate(length, ...)`: a FreeRTOS queue of this boot.
    pub fn queue_create<T: Send + 'static>(&self, length: usize) -> Queue<T> {
        Queue::new(self.shared.clone(), length)
    }

    /// A one-shot FreeRTOS software timer (`xTimerCreate` with
    /// `pdFALSE`, then `xTimerStart`): `f` runs on the timer service task
    /// after `delay`, unless the timer is stopped first.
    pub fn timer_start(&self, delay: Duration, f: impl FnOnce() + Send + 'static) -> TimerHandle {
        timer::start(&self.shared, delay, false, Box::new(f))
    }

    /// [`Services::timer_start`] for a timer that is a timed wait rather
    /// than work in flight (see [`Services::quiet_untimed`]): a client's
    /// connect timeout or keep-alive, which a host that lets time run
    /// does not wait out.
    pub fn timer_start_timed(
        &self,
        delay: Duration,
        f: impl FnOnce() + Send + 'static,
    ) -> TimerHandle {
        timer::start(&self.shared, delay, true, Box::new(f))
    }

    /// The chip has no work in flight between its tasks (no queue item
    /// being handled, no timer armed), and how often work was handed over
    /// so far: a host that sees the same count twice with nothing in
    /// between knows nothing happened meanwhile.
    pub fn quiet(&self) -> Option<u64> {
        self.shared
            .read(|st| (st.busy == 0).then_some(st.busy_epoch))
    }

    /// [`Services::quiet`], and no task in a timed wait either (a delay, an
    /// event group wait with a timeout): the count also moves when one
    /// starts or ends.
    pub fn quiet_untimed(&self) -> Option<u64> {
        self.shared.read(|st| {
            (st.busy == 0 && st.timed == 0).then_some(st.busy_epoch.wrapping_add(st.timed_epoch))
        })
    }

    /// Waits until [`Services::quiet`] (false on timeout, or if the chip
    /// stops meanwhile: then the caller looks at why).
    pub fn wait_quiet(&self, timeout: Duration) -> bool {
        self.shared.wait(timeout, |st| {
            st.busy == 0 || st.panicked || st.off || st.dead
        })
    }

    /// Waits until the main task of the current boot has returned with no
    /// panic since, or the chip has stopped for good (false on timeout). A
    /// rebooting chip first finishes booting.
    pub fn wait_up(&self, timeout: Duration) -> bool {
        self.shared.wait(timeout, |st| {
            ((st.main_returned || st.app_started) && !st.panicked) || st.dead || st.off
        })
    }
}

/// The chip on its board: built, the layers above register their hooks, then
/// it is powered on. Dropping it powers it off.
pub struct Chip {
    shared: Arc<Shared>,
    cpu: Option<JoinHandle<()>>,
}

impl Chip {
    /// The chip with its power still off.
    pub fn new(cfg: Config, serial: SerialSink) -> Chip {
        let con = Console::new(cfg.log_level, cfg.log_colors, cfg.clock, serial);
        let random = cfg.random_seed.unwrap_or_else(|| {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0);
            h.finish()
        });
        Chip {
            shared: Arc::new(Shared {
                con,
                uart_rx: cfg.uart_rx,
                reboot_on_panic: cfg.reboot_on_panic,
                rom: cfg.rom,
                state: Mutex::new(State {
                    random,
                    ..State::default()
                }),
                cv: Condvar::new(),
                halt_hooks: Mutex::new(Vec::new()),
                reset_hooks: Mutex::new(Vec::new()),
                queues: Mutex::new(Vec::new()),
            }),
            cpu: None,
        }
    }

    /// Registers `f` to run when the CPU stops (a panic, or the power
    /// going): every call blocked in the layer must then return.
    pub fn on_halt(&self, f: impl Fn() + Send + Sync + 'static) {
        self.shared
            .halt_hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(f));
    }

    /// Registers `f` to run at a reset, before the CPU starts again: RAM
    /// and the peripherals start from nothing.
    pub fn on_reset(&self, f: impl Fn() + Send + Sync + 'static) {
        self.shared
            .reset_hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(f));
    }

    pub fn services(&self) -> Services {
        Services {
            shared: self.shared.clone(),
        }
    }

    /// Powers the chip on: it boots and runs the software, and after a
    /// panic boots again (unless told not to). Returns at once, as the chip
    /// starts booting.
    pub fn power_on(&mut self, software: Arc<dyn Software>) {
        assert!(self.cpu.is_none(), "the chip is already powered on");
        let shared = self.shared.clone();
        self.cpu = Some(
            std::thread::Builder::new()
                .name("cpu".into())
                .spawn(move || cpu(shared, software))
                .expect("spawn the cpu thread"),
        );
    }

    /// Waits until the main task of the current boot has returned (false on
    /// timeout, or if the chip is halted for good).
    pub fn wait_booted(&self, timeout: Duration) -> bool {
        self.shared.wait(timeout, |st| {
            st.main_returned || st.app_started || st.dead || st.off
        });
        self.shared
            .read(|st| (st.main_returned || st.app_started) && !st.panicked)
    }

    /// Cuts the power: nothing more is printed, every task stops.
    pub fn power_off(&mut self) {
        self.shared.con.mute();
        self.shared.update(|st| st.off = true);
        self.shared.halt_all();
        self.shared.uart_rx.close();
        if let Some(t) = self.cpu.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Chip {
    fn drop(&mut self) {
        self.power_off();
    }
}

/// The CPU from reset to reset: the ROM, then the software's tasks until a
/// panic resets the chip (ESP-IDF's default panic behaviour,
/// `esp_panic_handler` → `esp_restart`) or the power goes.
fn cpu(shared: Arc<Shared>, software: Arc<dyn Software>) {
    let mut reason = ResetReason::PowerOn;
    loop {
        shared.update(|st| {
            st.boots += 1;
            st.main_returned = false;
            st.app_started = false;
            st.booted_at = Some(Instant::now());
            st.panicked = false;
            st.gpio.clear();
        });
        if shared.rom == Rom::Esp32 {
            rom_banner(&shared.con, reason);
        }
        shared.uart_rx.reopen();
        let chip = Services {
            shared: shared.clone(),
        };
        {
            let software = software.clone();
            task::create(
                &shared,
                "main_task",
                true,
                Box::new(move || software.main_task(&chip)),
            );
        }
        drop(shared.wait_forever(shared.lock(), |st| st.panicked || st.off));
        // Every task stops: the layers above are halted, so blocked calls
        // return and each task runs to its end (printing nothing: the UART
        // is muted). A task waiting to start, or for a line on the UART, is
        // released too.
        shared.halt_all();
        shared.uart_rx.close();
        shared.update(|_| {});
        task::join_all(&shared);
        // Queue items and armed timers went with the tasks.
        shared.update(|st| {
            st.busy = 0;
            st.timed = 0;
            st.timers = timer::Timers::default();
        });
        shared
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        if shared.read(|st| st.off) {
            return;
        }
        if !shared.reboot_on_panic {
            shared.update(|st| st.dead = true);
            drop(shared.wait_forever(shared.lock(), |st| st.off));
            return;
        }
        // The reset: RAM and the network stack start from nothing; peers
        // of the old connections find out from an RST.
        Shared::run_hooks(&shared.reset_hooks);
        shared.con.reset();
        reason = ResetReason::SoftwareCpu;
    }
}

/// What the ESP32 (ECO3) mask ROM prints on UART0 before it loads the
/// second-stage bootloader (QEMU fact sheet, section 6). The `load:` and
/// `entry` lines that follow, and the bootloader's own lines, describe the
/// particular build (segment addresses, lengths, compile time, partition
/// table), so the model prints none of them rather than inventing values.
fn rom_banner(con: &Console, reason: ResetReason) {
    let text = format!(
        "ets Jul 29 2019 12:21:46\r\n\r\nrst:{},boot:0x12 (SPI_FAST_FLASH_BOOT)\r\nconfigsip: 0, SPIWP:0xee\r\nclk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\r\nmode:DIO, clock div:2\r\n",
        reason.rom_text()
    );
    con.print_raw(text.as_bytes());
}
