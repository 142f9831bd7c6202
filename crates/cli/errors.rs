//! How input errors are shown: the location, the field, the message, and the
//! offending source line with a caret under the column.

use esp_ws_scenario::ScenarioError;

pub fn render_scenario_error(e: &ScenarioError) -> String {
    let mut s = format!("error: {e}\n");
    if e.line == 0 {
        return s;
    }
    if let Ok(text) = std::fs::read_to_string(&e.file)
        && let Some(src) = text.lines().nth(e.line - 1)
    {
        let num = e.line.to_string();
        let pad = " ".repeat(num.len());
        let caret_pad: String = src
            .chars()
            .take(e.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        s.push_str(&format!("{pad} |\n{num} | {src}\n{pad} | {caret_pad}^\n"));
    }
    s
}

/// The flag a user gave for a setting a target error is about.
fn flag(setting: esp_ws_dut::Setting) -> &'static str {
    match setting {
        esp_ws_dut::Setting::Host => "--host",
        esp_ws_dut::Setting::SerialPort => "--serial",
        esp_ws_dut::Setting::Reset => "--reset",
    }
}

/// A run that could not go on, in the user's terms: the flag an error is
/// about, and what to do about a firmware waiting at its Wi-Fi prompt.
pub fn render_run_error(e: &esp_ws_runner::RunError) -> String {
    let mut s = match e.dut_error().and_then(|d| d.setting()) {
        Some(setting) => format!("{}: {e}", flag(setting)),
        None => e.to_string(),
    };
    if let Some(h @ esp_ws_dut::Hint::WifiPrompt(_)) = e.hint() {
        let said = h.to_string();
        s = s.replacen(
            &said,
            &format!("{said}: give them with --wifi-ssid and --wifi-password (or ESP_WS_WIFI_SSID and ESP_WS_WIFI_PASSWORD)"),
            1,
        );
    }
    s
}
