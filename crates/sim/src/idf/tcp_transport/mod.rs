//! ESP-IDF's `tcp_transport` component as esp_websocket_client uses it: a
//! plain TCP transport ([`transport_tcp`], the socket part of
//! transport_ssl.c over esp-tls's plain TCP connect) under the WebSocket
//! transport ([`transport_ws`], transport_ws.c: the opening handshake,
//! framing and masking). Facts: the esp_websocket_client fact sheet
//! (../shared/reference/esp-websocket-client.md), sections named in the code.

pub mod transport_tcp;
pub mod transport_ws;
