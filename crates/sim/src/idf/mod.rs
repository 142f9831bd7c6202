//! ESP-IDF's components, one module per component (or per C file where the
//! component is large). Each calls down to the chip, or through callbacks
//! registered with it, and none names a firmware: what sits above reaches
//! them as ESP-IDF's API (handlers registered with esp_http_server, work
//! queued on its task, `app_main` given to esp_system).

pub mod esp_event;
pub mod esp_http_server;
pub mod esp_netif;
pub mod esp_system;
pub mod esp_websocket_client;
pub mod espconn;
pub mod http_parser;
pub mod lwip;
pub mod protocol_examples_common;
pub mod release;
pub mod tcp_transport;

pub use release::Release;
