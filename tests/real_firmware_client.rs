//! The esp_websocket_client model against the four sessions recorded on
//! the real client (../shared/real-firmware/esp_websocket_client/, kept
//! beside the repository, never in it): `cargo xtask
//! compare-real-firmware` with esp-ws playing each recorded server. The
//! sessions run in real time (14 s, in parallel). Skipped, saying so, where
//! the recordings are not there.

use std::path::Path;
use std::process::Command;

#[test]
fn the_client_model_reproduces_the_sessions_recorded_on_the_real_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("../shared/real-firmware/esp_websocket_client");
    if !dir.is_dir() {
        eprintln!(
            "skipped: {} is not there (CI keeps the recordings beside the checkout)",
            dir.display()
        );
        return;
    }
    let out = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--",
            "compare-real-firmware",
            "--firmware",
            "esp-websocket-client-1.8.0",
        ])
        .arg(&dir)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the model differs from the real client:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("4 sessions, 0 differ"), "{stdout}");
}
