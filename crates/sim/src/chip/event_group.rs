//! FreeRTOS event groups (`xEventGroupCreate`, `xEventGroupSetBits`,
//! `xEventGroupWaitBits`) and `vTaskDelay`: the two ways a task waits for
//! time to pass.
//!
//! A task waiting with a timeout is a *timed wait*: nothing is in flight
//! between tasks, but the task does something when the time is up, host or
//! no host. The chip counts such waits apart from work in flight
//! (`Services::quiet_timed`): a host that only waits for the firmware to
//! have read what it was sent (and lets timers run) counts them as rest, one
//! that waits for "nothing happens until I act" does not.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Shared;

/// One event group of this boot.
#[derive(Clone)]
pub struct EventGroup {
    shared: Arc<Shared>,
    bits: Arc<Mutex<u32>>,
    boot: u32,
}

impl EventGroup {
    pub(super) fn new(shared: Arc<Shared>) -> EventGroup {
        let boot = shared.lock().boots;
        EventGroup {
            shared,
            bits: Arc::new(Mutex::new(0)),
            boot,
        }
    }

    fn bits(&self) -> std::sync::MutexGuard<'_, u32> {
        self.bits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `xEventGroupSetBits()`: wakes the tasks waiting for them.
    pub fn set(&self, bits: u32) {
        *self.bits() |= bits;
        // Waiters wait on the chip's condition variable.
        self.shared.update(|st| st.timed_epoch += 1);
    }

    /// `xEventGroupClearBits()`.
    pub fn clear(&self, bits: u32) {
        *self.bits() &= !bits;
    }

    /// `xEventGroupGetBits()`.
    pub fn get(&self) -> u32 {
        *self.bits()
    }

    /// `xEventGroupWaitBits(group, bits, pdFALSE, wait_for_all, timeout)`:
    /// the bits when the wait ended, with `bits` (any, or all of them)
    /// set, the timeout passed (`None`: portMAX_DELAY) or the chip stopped.
    pub fn wait(&self, bits: u32, all: bool, timeout: Option<Duration>) -> u32 {
        let done = |v: u32| if all { v & bits == bits } else { v & bits != 0 };
        let deadline = timeout.map(|t| Instant::now() + t);
        super::task::blocking();
        let mut st = self.shared.lock();
        let timed = deadline.is_some();
        if timed {
            st.timed += 1;
            st.timed_epoch += 1;
            self.shared.cv.notify_all();
        }
        loop {
            let v = self.get();
            if done(v) || st.panicked || st.off || st.boots != self.boot {
                break;
            }
            match deadline {
                None => st = self.shared.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    st = self
                        .shared
                        .cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        if timed {
            st.timed = st.timed.saturating_sub(1);
            st.timed_epoch += 1;
        }
        drop(st);
        self.shared.cv.notify_all();
        self.get()
    }
}

/// `vTaskDelay()`: the calling task sleeps for `d` (a timed wait), or
/// until the chip stops.
pub(super) fn delay(shared: &Arc<Shared>, d: Duration) {
    EventGroup::new(shared.clone()).wait(1, false, Some(d));
}
