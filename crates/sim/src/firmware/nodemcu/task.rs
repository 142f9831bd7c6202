//! NodeMCU's task interface (components/task/task.c): other tasks and
//! timers post work to the Lua VM's task, which runs it in priority order
//! (high, medium, low) between Lua's own work. A posted job runs on the
//! Lua task with the VM.
//!
//! The queues' lengths come from CONFIG_NODEMCU_TASK_SLOT_MEMORY (default
//! 2000 bytes): low 25, medium 125, high 100 events (fact sheet
//! nodemcu-httpd-websocket.md section 4; the arithmetic is inferred).
//! `task_post` does not wait: a full queue refuses the job.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::lua::Vm;
use crate::chip::{Queue, Services};

/// `task_prio_t`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Prio {
    Low,
    Medium,
    High,
}

impl Prio {
    fn capacity(self) -> usize {
        match self {
            Prio::Low => 25,
            Prio::Medium => 125,
            Prio::High => 100,
        }
    }
}

/// A task with its parameter, posted to the Lua task.
pub type Job = Box<dyn FnOnce(&Vm) + Send>;

#[derive(Default)]
struct Queues {
    high: VecDeque<Job>,
    medium: VecDeque<Job>,
    low: VecDeque<Job>,
}

/// The Lua task's queues, shared by every task that posts to it.
#[derive(Clone)]
pub struct Tasks {
    queues: Arc<Mutex<Queues>>,
    /// `pending`: one item per posted job, which the pump waits on.
    pending: Queue<()>,
}

impl Tasks {
    pub fn new(chip: &Services) -> Tasks {
        Tasks {
            queues: Arc::new(Mutex::new(Queues::default())),
            pending: chip.queue_create(
                Prio::Low.capacity() + Prio::Medium.capacity() + Prio::High.capacity(),
            ),
        }
    }

    /// `task_post(prio, handle, param)`: false when that queue is full.
    pub fn post(&self, prio: Prio, job: Job) -> bool {
        {
            let mut q = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            let list = match prio {
                Prio::High => &mut q.high,
                Prio::Medium => &mut q.medium,
                Prio::Low => &mut q.low,
            };
            if list.len() >= prio.capacity() {
                return false;
            }
            list.push_back(job);
        }
        self.pending.send(())
    }

    fn next(&self) -> Option<Job> {
        let mut q = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        q.high
            .pop_front()
            .or_else(|| q.medium.pop_front())
            .or_else(|| q.low.pop_front())
    }

    /// `task_pump_messages()`: runs jobs as they come, until the chip
    /// stops.
    pub fn pump(&self, vm: &Vm) {
        while self.pending.receive().is_some() {
            if let Some(job) = self.next() {
                job(vm);
            }
        }
    }

    /// Runs the jobs already posted, and those they post, without waiting
    /// for more.
    pub fn run_pending(&self, vm: &Vm) {
        while self.pending.try_receive().is_some() {
            if let Some(job) = self.next() {
                job(vm);
            }
        }
        self.pending.handled();
    }
}
