//! NodeMCU for the ESP8266 (release branch) with its `websocket` client
//! module.

pub mod websocketclient;
