//! Each fuzz target under bolero. `cargo test` gives each a short random
//! run; `cargo xtask fuzz TARGET --time 60s` a coverage-guided one.

#[test]
fn frame_decoder() {
    esp_ws_fuzz::bolero::check!().for_each(esp_ws_fuzz::frame_decoder);
}

#[test]
fn serial_lines() {
    esp_ws_fuzz::bolero::check!().for_each(esp_ws_fuzz::serial_lines);
}

#[test]
fn scenario_loader() {
    esp_ws_fuzz::bolero::check!().for_each(esp_ws_fuzz::scenario_loader);
}

#[test]
fn http_request() {
    esp_ws_fuzz::bolero::check!().for_each(esp_ws_fuzz::http_request);
}

#[test]
fn websocket_frames() {
    esp_ws_fuzz::bolero::check!().for_each(esp_ws_fuzz::websocket_frames);
}

/// The list `cargo xtask fuzz --list` prints is these tests.
#[test]
fn every_target_has_its_test() {
    let me = include_str!("targets.rs");
    for (name, _) in esp_ws_fuzz::TARGETS {
        assert!(me.contains(&format!("fn {name}()")), "{name} has no test");
    }
}
