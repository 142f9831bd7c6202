//! FreeRTOS software timers: one-shot callbacks run by the timer service
//! task (`prvTimerTask`, "Tmr Svc") when their period has passed.
//!
//! The service task is created the first time a timer is started in a
//! boot. An armed timer is work in flight (see the queue module): a host
//! waiting for the firmware to settle waits for it to fire, or to be
//! stopped. A *timed* timer is a timed wait instead (see the event group
//! module): the periodic keep-alive of a client, which never stops while
//! it is connected, is time passing, not work a host should wait out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Shared;

type Callback = Box<dyn FnOnce() + Send>;

/// The timers of one boot.
#[derive(Default)]
pub(super) struct Timers {
    next_id: u64,
    /// Armed timers: their deadline, callback, and whether they are timed.
    armed: BTreeMap<u64, (Instant, Callback, bool)>,
    service_started: bool,
}

/// A started timer (`TimerHandle_t` of a one-shot timer).
#[derive(Clone)]
pub struct TimerHandle {
    shared: Arc<Shared>,
    id: u64,
    boot: u32,
}

impl TimerHandle {
    /// `xTimerStop()`: true when the timer was still armed (its callback
    /// will not run).
    pub fn stop(&self) -> bool {
        let mut st = self.shared.lock();
        if st.boots != self.boot {
            return false;
        }
        let removed = st.timers.armed.remove(&self.id);
        drop(st);
        match removed {
            Some((_, _, timed)) => {
                disarmed(&self.shared, timed);
                true
            }
            None => false,
        }
    }
}

/// A timer is no longer armed: it fired (after its callback ran) or was
/// stopped.
fn disarmed(shared: &Shared, timed: bool) {
    if timed {
        shared.update(|st| {
            st.timed = st.timed.saturating_sub(1);
            st.timed_epoch += 1;
        });
    } else {
        shared.work_done(1);
    }
}

pub(super) fn start(
    shared: &Arc<Shared>,
    delay: Duration,
    timed: bool,
    f: Callback,
) -> TimerHandle {
    let mut st = shared.lock();
    let id = st.timers.next_id;
    st.timers.next_id += 1;
    st.timers
        .armed
        .insert(id, (Instant::now() + delay, f, timed));
    let start_service = !std::mem::replace(&mut st.timers.service_started, true);
    let boot = st.boots;
    if timed {
        st.timed += 1;
        st.timed_epoch += 1;
    } else {
        // An armed timer is work in flight, like a queue item.
        st.busy += 1;
        st.busy_epoch += 1;
    }
    drop(st);
    shared.cv.notify_all();
    if start_service {
        let service = shared.clone();
        super::task::create(
            shared,
            "Tmr Svc",
            false,
            Box::new(move || service_task(&service)),
        );
    }
    TimerHandle {
        shared: shared.clone(),
        id,
        boot,
    }
}

/// `prvTimerTask()`: waits for the earliest deadline, runs what is due.
fn service_task(shared: &Arc<Shared>) {
    // It blocks at once, waiting for its first deadline.
    super::task::blocking();
    let mut st = shared.lock();
    loop {
        if st.panicked || st.off {
            return;
        }
        let now = Instant::now();
        let next = st
            .timers
            .armed
            .iter()
            .min_by_key(|(id, (at, _, _))| (*at, **id))
            .map(|(id, (at, _, _))| (*id, *at));
        match next {
            Some((id, at)) if at <= now => {
                let (_, f, timed) = st.timers.armed.remove(&id).expect("armed");
                drop(st);
                // What the callback hands on (a queue item) is counted
                // before the timer stops counting.
                f();
                disarmed(shared, timed);
                st = shared.lock();
            }
            Some((_, at)) => {
                st = shared
                    .cv
                    .wait_timeout(st, at - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            None => {
                st = shared.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}
