//! httpd_sess.c: the session table (`struct sock_db` slots).

use super::{ESP_FAIL, ESP_OK, EspErr, Httpd, ServerEvent, SockDb, WorkFn};
use crate::idf::lwip::Fd;
use crate::log;

const TAG: &str = "httpd_sess";

impl Httpd {
    /// `httpd_sess_get_free()` returns the first free slot.
    pub(super) fn httpd_sess_get_free(&self) -> Option<usize> {
        if self.active_count == self.config.max_open_sockets {
            return None;
        }
        self.sessions.iter().position(|s| s.fd < 0)
    }

    pub(super) fn httpd_is_sess_available(&self) -> bool {
        self.httpd_sess_get_free().is_some()
    }

    /// `httpd_sess_get()`: the slot of the session with this fd.
    pub(super) fn httpd_sess_get(&self, fd: Fd) -> Option<usize> {
        if let Some(r) = &self.req
            && self.sessions[r.slot].fd == fd
        {
            return Some(r.slot);
        }
        self.sessions.iter().position(|s| s.fd == fd)
    }

    /// `httpd_sess_new()`.
    pub(super) fn httpd_sess_new(&mut self, newfd: Fd) -> EspErr {
        const F: &str = "httpd_sess_new";
        logf!(self.con, Debug, TAG, F, "fd = {}", newfd);
        if self.httpd_sess_get(newfd).is_some() {
            logf!(
                self.con,
                Error,
                TAG,
                F,
                "session already exists with fd = {}",
                newfd
            );
            return ESP_FAIL;
        }
        let Some(slot) = self.httpd_sess_get_free() else {
            logf!(
                self.con,
                Debug,
                TAG,
                F,
                "unable to launch session for fd = {}",
                newfd
            );
            return ESP_FAIL;
        };
        let mut s = SockDb::free();
        s.fd = newfd;
        s.lru_counter = self.lru_counter;
        self.sessions[slot] = s;
        self.active_count += 1;
        if self.idf.httpd.log_active_sockets {
            logf!(
                self.con,
                Debug,
                TAG,
                F,
                "active sockets: {}",
                self.active_count
            );
        }
        ESP_OK
    }

    /// `httpd_sess_delete()`.
    pub(super) fn httpd_sess_delete(&mut self, slot: usize) {
        const F: &str = "httpd_sess_delete";
        let fd = self.sessions[slot].fd;
        if fd < 0 {
            // v4.2 httpd_sess.c:218-263 logs whatever fd it is given: a
            // queued close of a slot that is already free prints `fd = -1`.
            if self.idf.httpd.select_loop_closes {
                logf!(self.con, Debug, TAG, F, "fd = {}", fd);
            }
            return;
        }
        logf!(self.con, Debug, TAG, F, "fd = {}", fd);
        let _ = self.net.close(fd);
        self.dispatch_event(ServerEvent::Disconnected);
        // httpd_sess_clear(): the session's context is freed with its
        // free_ctx, after the socket is closed.
        if let Some(ctx) = self.sessions[slot].ctx.take() {
            (ctx.free_ctx)(ctx.value);
        }
        self.sessions[slot].fd = -1;
        self.sessions[slot].pending.clear();
        self.active_count -= 1;
        if self.idf.httpd.log_active_sockets {
            logf!(
                self.con,
                Debug,
                TAG,
                F,
                "active sockets: {}",
                self.active_count
            );
        }
        if self.active_count == 0 {
            self.lru_counter = 0;
        }
    }

    /// `httpd_sess_process()`.
    pub(super) fn httpd_sess_process(&mut self, slot: usize) -> EspErr {
        const F: &str = "httpd_sess_process";
        logf!(self.con, Debug, TAG, F, "httpd_req_new");
        if self.httpd_req_new(slot) != ESP_OK {
            return ESP_FAIL;
        }
        logf!(self.con, Debug, TAG, F, "httpd_req_delete");
        if self.httpd_req_delete() != ESP_OK {
            return ESP_FAIL;
        }
        logf!(self.con, Debug, TAG, F, "success");
        self.lru_counter += 1;
        self.sessions[slot].lru_counter = self.lru_counter;
        ESP_OK
    }

    /// `httpd_sess_close()`: the work function of a queued close. It gets
    /// the session *slot*, so a slot reused by a newer connection before the
    /// work runs closes that connection (esp-idf#19103).
    fn httpd_sess_close(&mut self, slot: usize) {
        let s = &self.sessions[slot];
        if s.lru_counter == 0 && !s.lru_socket {
            log!(
                self.con,
                Debug,
                TAG,
                "Skipping session close for {} as it seems to be a race condition",
                s.fd
            );
            return;
        }
        self.sessions[slot].lru_socket = false;
        self.httpd_sess_delete(slot);
    }

    /// `httpd_sess_trigger_close()`.
    pub fn httpd_sess_trigger_close(&mut self, fd: Fd) -> EspErr {
        match self.httpd_sess_get(fd) {
            Some(slot) => self.httpd_queue_work(sess_close_work(slot)),
            None => super::ESP_ERR_NOT_FOUND,
        }
    }

    /// `httpd_sess_close_lru()`.
    pub(super) fn httpd_sess_close_lru(&mut self) -> EspErr {
        let mut lowest: Option<(u64, usize)> = None;
        for (slot, s) in self.sessions.iter().enumerate() {
            if s.fd == -1 {
                // A free slot: nothing needs closing.
                break;
            }
            if !s.for_async_req && lowest.is_none_or(|(c, _)| s.lru_counter < c) {
                lowest = Some((s.lru_counter, slot));
            }
        }
        let Some((_, slot)) = lowest else {
            return ESP_OK;
        };
        logf!(
            self.con,
            Debug,
            TAG,
            "httpd_sess_close_lru",
            "Closing session with fd {}",
            self.sessions[slot].fd
        );
        self.sessions[slot].lru_socket = true;
        self.httpd_queue_work(sess_close_work(slot))
    }
}

/// `httpd_queue_work(hd, httpd_sess_close, sock_db)`: the argument is the
/// session *slot* (esp-idf#19103 depends on that).
fn sess_close_work(slot: usize) -> WorkFn {
    Box::new(move |hd: &mut Httpd| hd.httpd_sess_close(slot))
}
