//! FreeRTOS tasks, each on a thread of its own, and the one scheduling
//! decision that shows in the log: when a newly created task first runs.
//!
//! Tasks run concurrently, as on the chip's two cores, except at their
//! creation. ESP-IDF's documented output (an example's README, kept in
//! fixtures/documented/) shows a task created by the main task printing its
//! first lines right after the main task's next line, and before anything
//! the main task does after that line. On the chip the
//! order comes from priorities: the main task has the lowest one
//! (`ESP_TASK_MAIN_PRIO`), and while it writes a line to the UART a task of
//! higher priority gets the CPU until it blocks. The model makes that order
//! deterministic, and waits only where the order shows:
//!
//! - A task created by another task does not run until its creator next
//!   writes a line to UART0 ([`line_written`], called by the console): the
//!   write blocks the lower-priority creator.
//! - The creator then goes on once the new task blocks ([`blocking`], which
//!   a layer above calls when one of its calls is about to wait: a socket's
//!   `select` or `recv`, say) or ends.
//! - A creator that blocks or ends before it writes a line (at a log level
//!   that hides its lines) lets the new task run then, in the same way.
//!
//! Every one of these waits is released by a panic or the power going, and
//! the CPU thread joins every task's thread at each reset and at power-off.

use std::cell::RefCell;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::Shared;

struct Task {
    /// The task that created this one, if a task did: this one waits for
    /// its creator's next line before it runs.
    creator: Option<usize>,
    /// The chip's first task, the one [`super::Software::main_task`] runs.
    main: bool,
    /// Allowed to run.
    started: bool,
    /// Has blocked at least once since it started.
    blocked: bool,
    ended: bool,
    /// Run when this task next blocks (or ends): see [`when_blocked`].
    on_block: Vec<Box<dyn FnOnce() + Send>>,
}

/// The tasks of the current boot, and their threads.
#[derive(Default)]
pub(super) struct Tasks {
    list: Vec<Task>,
    threads: Vec<JoinHandle<()>>,
}

thread_local! {
    /// The chip and task a task's thread runs (none on other threads).
    static CURRENT: RefCell<Option<(Arc<Shared>, usize)>> = const { RefCell::new(None) };
}

fn current() -> Option<(Arc<Shared>, usize)> {
    CURRENT.with(|c| c.borrow().clone())
}

/// `xTaskCreate()`: `main` is the chip's first task, created by the CPU.
pub(super) fn create(shared: &Arc<Shared>, name: &str, main: bool, f: Box<dyn FnOnce() + Send>) {
    let creator = current()
        .filter(|(s, _)| Arc::ptr_eq(s, shared))
        .map(|(_, id)| id);
    let mut st = shared.lock();
    let id = st.tasks.list.len();
    st.tasks.list.push(Task {
        creator,
        main,
        started: creator.is_none(),
        blocked: false,
        ended: false,
        on_block: Vec::new(),
    });
    let task_shared = shared.clone();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || run(task_shared, id, f))
        .expect("spawn a task");
    st.tasks.threads.push(thread);
}

fn run(shared: Arc<Shared>, id: usize, f: Box<dyn FnOnce() + Send>) {
    CURRENT.with(|c| *c.borrow_mut() = Some((shared.clone(), id)));
    let st = shared.wait_forever(shared.lock(), |st| {
        st.tasks.list[id].started || st.panicked || st.off
    });
    // A task that was still waiting when the chip stopped never runs.
    let waited = st.tasks.list[id].creator.is_some();
    let run = !waited || (st.tasks.list[id].started && !st.panicked && !st.off);
    drop(st);
    // Marks the task ended however it ends, so that nobody waits for it.
    let _end = End {
        shared: shared.clone(),
        id,
    };
    if run {
        f();
    }
    // The end of a task lets the tasks it created and left waiting run.
    yield_to_created(&shared, id);
    run_on_block(&shared, id);
}

/// Runs what waits for task `id` to block.
fn run_on_block(shared: &Shared, id: usize) {
    let pending = std::mem::take(&mut shared.lock().tasks.list[id].on_block);
    for f in pending {
        f();
    }
}

/// Runs `f` when the current task next blocks (or ends); at once on a
/// thread that is not a task. A task that hands work to a task of lower
/// priority and goes on (esp_http_server's task replying to NodeMCU's Lua
/// task, say) keeps the CPU until it blocks: the lower one is released
/// then.
pub fn when_blocked(f: Box<dyn FnOnce() + Send>) {
    match current() {
        Some((shared, id)) => shared.lock().tasks.list[id].on_block.push(f),
        None => f(),
    }
}

struct End {
    shared: Arc<Shared>,
    id: usize,
}

impl Drop for End {
    fn drop(&mut self) {
        // A task that unwinds (a bug of the model) has not returned.
        let returned = !std::thread::panicking();
        self.shared.update(|st| {
            st.tasks.list[self.id].ended = true;
            // A main task cut short by the power going has not returned.
            if st.tasks.list[self.id].main && returned && !st.off {
                st.main_returned = true;
            }
        });
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

/// Lets the tasks that `me` created and that wait for it run, and waits
/// until each has blocked or ended (or the chip has stopped).
fn yield_to_created(shared: &Shared, me: usize) {
    let mut st = shared.lock();
    let waiting: Vec<usize> = (0..st.tasks.list.len())
        .filter(|&i| {
            let t = &st.tasks.list[i];
            t.creator == Some(me) && !t.started
        })
        .collect();
    if waiting.is_empty() {
        return;
    }
    for &i in &waiting {
        st.tasks.list[i].started = true;
    }
    shared.cv.notify_all();
    drop(shared.wait_forever(st, |st| {
        st.panicked
            || st.off
            || waiting.iter().all(|&i| {
                let t = &st.tasks.list[i];
                t.blocked || t.ended
            })
    }));
}

/// The current task has written a line to UART0 (see the module's notes).
pub(super) fn line_written() {
    if let Some((shared, id)) = current() {
        yield_to_created(&shared, id);
    }
}

/// The current task is about to block: a call of a layer above waits for
/// something (a socket's `select` or `recv`, a line from the UART). A task
/// waiting for its creator to block then goes on; the tasks the current one
/// created and left waiting may run. A no-op on threads that are not tasks.
pub fn blocking() {
    let Some((shared, id)) = current() else {
        return;
    };
    let mut st = shared.lock();
    let pending = std::mem::take(&mut st.tasks.list[id].on_block);
    if !pending.is_empty() {
        drop(st);
        for f in pending {
            f();
        }
        st = shared.lock();
    }
    let mut changed = !st.tasks.list[id].blocked;
    st.tasks.list[id].blocked = true;
    for t in st.tasks.list.iter_mut() {
        if t.creator == Some(id) && !t.started {
            t.started = true;
            changed = true;
        }
    }
    if changed {
        shared.cv.notify_all();
    }
}

/// Joins every task's thread (all of them have been told to stop), then
/// forgets the tasks of this boot.
pub(super) fn join_all(shared: &Shared) {
    loop {
        let Some(thread) = shared.lock().tasks.threads.pop() else {
            break;
        };
        let _ = thread.join();
    }
    shared.lock().tasks = Tasks::default();
}
