//! FreeRTOS queues (`xQueueCreate`, `xQueueSend`, `xQueueReceive`), as
//! tasks hand work to one another through them.
//!
//! A queue also tells the chip what is in flight: an item counts as work
//! from the moment it is sent until the task that received it comes back
//! for the next one (or, for a queue used as a reply channel, until it has
//! been received). A host asks the chip whether any such work is left to
//! know that the firmware has settled (`Services::quiet`).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::Shared;

/// A queue the chip wakes for good when the CPU stops.
pub(super) trait Halt: Send + Sync {
    fn halt(&self);
}

struct State<T> {
    items: VecDeque<T>,
    /// Items handed to a receiver that has not come back for more yet.
    taken: usize,
    halted: bool,
}

struct Inner<T> {
    shared: Arc<Shared>,
    length: usize,
    state: Mutex<State<T>>,
    cv: Condvar,
}

impl<T: Send> Halt for Inner<T> {
    fn halt(&self) {
        self.lock().halted = true;
        self.cv.notify_all();
    }
}

impl<T> Inner<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A handle to one queue; clones share it.
pub struct Queue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Send + 'static> Queue<T> {
    pub(super) fn new(shared: Arc<Shared>, length: usize) -> Queue<T> {
        let inner = Arc::new(Inner {
            shared: shared.clone(),
            length: length.max(1),
            state: Mutex::new(State {
                items: VecDeque::new(),
                taken: 0,
                halted: false,
            }),
            cv: Condvar::new(),
        });
        let weak: std::sync::Weak<dyn Halt> = {
            let dynamic: Arc<dyn Halt> = inner.clone();
            Arc::downgrade(&dynamic)
        };
        shared
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(weak);
        Queue { inner }
    }

    /// `xQueueSend(q, &item, 0)` (or `xQueueSendFromISR`): false when the
    /// queue is full (the item is dropped) or the chip has stopped.
    pub fn send(&self, item: T) -> bool {
        let mut st = self.inner.lock();
        if st.halted || st.items.len() >= self.inner.length {
            return false;
        }
        st.items.push_back(item);
        // Counted before the receiver can see it.
        self.inner.shared.work_posted();
        drop(st);
        self.inner.cv.notify_all();
        true
    }

    /// `xQueueSend(q, &item, portMAX_DELAY)`: waits for room. False when
    /// the chip stops meanwhile.
    pub fn send_blocking(&self, item: T) -> bool {
        let mut st = self.inner.lock();
        loop {
            if st.halted {
                return false;
            }
            if st.items.len() < self.inner.length {
                st.items.push_back(item);
                self.inner.shared.work_posted();
                drop(st);
                self.inner.cv.notify_all();
                return true;
            }
            drop(st);
            super::task::blocking();
            st = self.inner.lock();
            if st.items.len() >= self.inner.length && !st.halted {
                st = self.inner.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
    }

    /// `xQueueReceive(q, &item, portMAX_DELAY)`: the next item, or None
    /// once the chip has stopped. Coming back for an item means the one
    /// received before has been handled.
    pub fn receive(&self) -> Option<T> {
        let mut st = self.inner.lock();
        let done = std::mem::take(&mut st.taken);
        if done > 0 {
            drop(st);
            self.inner.shared.work_done(done);
            st = self.inner.lock();
        }
        loop {
            if st.halted {
                return None;
            }
            if let Some(item) = st.items.pop_front() {
                st.taken += 1;
                drop(st);
                // A sender waiting for room may go on.
                self.inner.cv.notify_all();
                return Some(item);
            }
            drop(st);
            // The calling task blocks: the chip's scheduler may let its
            // creator go on.
            super::task::blocking();
            st = self.inner.lock();
            if st.items.is_empty() && !st.halted {
                st = self.inner.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
    }

    /// `xQueueReceive(q, &item, 0)`: the next item if there is one. Like
    /// [`Queue::receive`], it means the item received before is handled.
    pub fn try_receive(&self) -> Option<T> {
        let mut st = self.inner.lock();
        let done = std::mem::take(&mut st.taken);
        if done > 0 {
            drop(st);
            self.inner.shared.work_done(done);
            st = self.inner.lock();
        }
        if st.halted {
            return None;
        }
        let item = st.items.pop_front()?;
        st.taken += 1;
        drop(st);
        self.inner.cv.notify_all();
        Some(item)
    }

    /// The item received last has been handled, without coming back for
    /// another: for a reply the receiver takes once.
    pub fn handled(&self) {
        let done = std::mem::take(&mut self.inner.lock().taken);
        self.inner.shared.work_done(done);
    }
}
