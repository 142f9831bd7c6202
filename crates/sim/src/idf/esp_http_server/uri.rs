//! httpd_uri.c: URI handler registration, lookup and dispatch, including
//! the WebSocket handshake step.

use super::txrx::HttpErr;
use super::{
    ESP_ERR_HTTPD_HANDLER_EXISTS, ESP_ERR_HTTPD_HANDLERS_FULL, ESP_ERR_NOT_FOUND, ESP_FAIL, ESP_OK,
    EspErr, Httpd, HttpdUri, UriMatchFn, UriTable,
};
use crate::chip::console::Console;
use std::sync::{Arc, Mutex};

const TAG: &str = "httpd_uri";

/// What `httpd_find_uri_handler()` reports besides the handler.
enum Lookup {
    Found(usize),
    NotFound,
    MethodNotAllowed,
}

/// `httpd_find_uri_handler()`: with the server's `uri_match_fn`, or else
/// `httpd_uri_match_simple` (an exact match).
fn httpd_find_uri_handler(
    con: &Console,
    uris: &[Option<HttpdUri>],
    match_fn: Option<&UriMatchFn>,
    uri: &[u8],
    method: u8,
) -> Lookup {
    let mut err = Lookup::NotFound;
    for (i, h) in uris.iter().enumerate() {
        let Some(h) = h else {
            break;
        };
        logf!(
            con,
            Debug,
            TAG,
            "httpd_find_uri_handler",
            "[{}] = {}",
            i,
            h.uri
        );
        let matches = match match_fn {
            Some(f) => f(&h.uri, uri),
            None => h.uri.as_bytes() == uri,
        };
        if matches {
            if h.method == method {
                return Lookup::Found(i);
            }
            err = Lookup::MethodNotAllowed;
        }
    }
    err
}

impl UriTable {
    pub(super) fn new(max_uri_handlers: usize, match_fn: Option<UriMatchFn>, con: Console) -> Self {
        UriTable {
            slots: Arc::new(Mutex::new((0..max_uri_handlers).map(|_| None).collect())),
            match_fn,
            con,
        }
    }

    /// `httpd_unregister_uri_handler()`: the handler with exactly this URI
    /// and method; the ones after it move up a slot.
    pub(super) fn httpd_unregister_uri_handler(&self, uri: &str, method: u8) -> EspErr {
        let mut uris = self.lock();
        let found = uris.iter().position(|h| {
            h.as_ref()
                .is_some_and(|h| h.uri == uri && h.method == method)
        });
        let Some(i) = found else {
            logf!(
                self.con,
                Warn,
                TAG,
                "httpd_unregister_uri_handler",
                "handler {} with method {} not found",
                uri,
                method
            );
            return ESP_ERR_NOT_FOUND;
        };
        logf!(
            self.con,
            Debug,
            TAG,
            "httpd_unregister_uri_handler",
            "[{}] removing {}",
            i,
            uri
        );
        uris.remove(i);
        uris.push(None);
        ESP_OK
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<HttpdUri>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `httpd_register_uri_handler()`.
    pub(super) fn httpd_register_uri_handler(&self, handler: HttpdUri) -> EspErr {
        const F: &str = "httpd_register_uri_handler";
        let mut uris = self.lock();
        // A handler already registered that matches the new URI (with the
        // server's match function: a wildcard that covers it counts).
        if let Lookup::Found(_) = httpd_find_uri_handler(
            &self.con,
            &uris,
            self.match_fn.as_ref(),
            handler.uri.as_bytes(),
            handler.method,
        ) {
            logf!(
                self.con,
                Warn,
                TAG,
                F,
                "handler {} with method {} already registered",
                handler.uri,
                handler.method
            );
            return ESP_ERR_HTTPD_HANDLER_EXISTS;
        }
        for i in 0..uris.len() {
            match &uris[i] {
                None => {
                    logf!(self.con, Debug, TAG, F, "[{}] installed {}", i, handler.uri);
                    uris[i] = Some(handler);
                    return ESP_OK;
                }
                Some(h) => {
                    logf!(self.con, Debug, TAG, F, "[{}] exists {}", i, h.uri);
                }
            }
        }
        logf!(
            self.con,
            Warn,
            TAG,
            F,
            "no slots left for registering handler"
        );
        ESP_ERR_HTTPD_HANDLERS_FULL
    }
}

impl Httpd {
    /// `httpd_uri()`: dispatch of a parsed request.
    pub(super) fn httpd_uri(&mut self) -> EspErr {
        const F: &str = "httpd_uri";
        let (uri, method, path) = {
            let r = self.req.as_ref().expect("request");
            let path = r.url.path.map(|(off, len)| r.uri[off..off + len].to_vec());
            (r.uri.clone(), r.method, path)
        };
        self.con.log(crate::chip::console::Record {
            level: crate::chip::console::Level::Debug,
            tag: TAG,
            message: [
                format!("{F}: request for ").as_bytes(),
                &uri,
                format!(" with type {method}").as_bytes(),
            ]
            .concat(),
        });
        let found = match &path {
            Some(p) => httpd_find_uri_handler(
                &self.con,
                &self.uris.lock(),
                self.uris.match_fn.as_ref(),
                p,
                method,
            ),
            // No path in the URL: `err` stays 0 and the request just fails.
            None => return ESP_FAIL,
        };
        let idx = match found {
            Lookup::Found(i) => i,
            Lookup::NotFound => {
                self.con.log(crate::chip::console::Record {
                    level: crate::chip::console::Level::Warn,
                    tag: TAG,
                    message: [format!("{F}: URI '").as_bytes(), &uri, b"' not found"].concat(),
                });
                return self.httpd_req_handle_err(HttpErr::E404);
            }
            Lookup::MethodNotAllowed => {
                self.con.log(crate::chip::console::Record {
                    level: crate::chip::console::Level::Warn,
                    tag: TAG,
                    message: [
                        format!("{F}: Method '{method}' not allowed for URI '").as_bytes(),
                        &uri,
                        b"'",
                    ]
                    .concat(),
                });
                return self.httpd_req_handle_err(HttpErr::E405);
            }
        };
        let h = self.uris.lock()[idx].clone().expect("handler present");
        let detect = self.req.as_ref().expect("request").ws_handshake_detect;
        if h.is_websocket && detect && h.method == crate::idf::http_parser::HTTP_GET {
            if let Some(cb) = &h.ws_pre_handshake_cb
                && cb(self) != ESP_OK
            {
                logf!(self.con, Warn, TAG, F, "ws_pre_handshake_cb failed");
                return ESP_FAIL;
            }
            let slot = self.req.as_ref().expect("request").slot;
            logf!(
                self.con,
                Debug,
                TAG,
                F,
                "Responding WS handshake to sock {}",
                self.sessions[slot].fd
            );
            let ret = self.httpd_ws_respond_server_handshake(h.supported_subprotocol.as_deref());
            if ret != ESP_OK {
                return ret;
            }
            let sd = &mut self.sessions[slot];
            sd.ws_handshake_done = true;
            sd.ws_handler = Some(h.handler.clone());
            sd.ws_control_frames = h.handle_ws_control_frames;
            if let Some(cb) = &h.ws_post_handshake_cb
                && cb(self) != ESP_OK
            {
                logf!(self.con, Warn, TAG, F, "ws_post_handshake_cb failed");
                return ESP_FAIL;
            }
            // v4.2 returns here, and so does v5.5.5 since 5028b6230f5;
            // v4.4 … v5.5.4 go on to call the URI handler with the GET.
            if !self.idf.ws.handler_on_handshake {
                return ESP_OK;
            }
        }
        if (h.handler)(self) != ESP_OK {
            logf!(self.con, Warn, TAG, F, "uri handler execution failed");
            return ESP_FAIL;
        }
        ESP_OK
    }
}
