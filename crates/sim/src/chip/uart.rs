//! UART0's receive side.

use std::sync::{Condvar, Mutex};

/// Bytes the host sends to the chip's UART, read a line at a time by the
/// software (`fgets(buf, n, stdin)`).
#[derive(Default)]
pub struct UartRx {
    state: Mutex<(Vec<u8>, bool)>,
    cv: Condvar,
}

impl UartRx {
    pub fn push(&self, bytes: &[u8]) {
        self.state.lock().unwrap().0.extend_from_slice(bytes);
        self.cv.notify_all();
    }

    /// Wakes every reader for good (power-off).
    pub(super) fn close(&self) {
        self.state.lock().unwrap().1 = true;
        self.cv.notify_all();
    }

    pub(super) fn reopen(&self) {
        self.state.lock().unwrap().1 = false;
    }

    /// The next line (without its newline), or None once closed.
    pub fn read_line(&self) -> Option<Vec<u8>> {
        let mut st = self.state.lock().unwrap();
        loop {
            if let Some(i) = st.0.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = st.0.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Some(line);
            }
            if st.1 {
                return None;
            }
            super::task::blocking();
            st = self.cv.wait(st).unwrap();
        }
    }
}
