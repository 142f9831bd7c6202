//! How input errors are shown: the location, the field, the message, and the
//! offending source line with a caret under the column.

use esp_ws_scenario::ScenarioError;

/// How much of a source line is quoted on each side of the column.
const CONTEXT: usize = 40;
/// Messages longer than this are cut (a huge unknown key is quoted in
/// serde's message).
const MAX_MESSAGE: usize = 500;

pub fn render_scenario_error(e: &ScenarioError) -> String {
    let message = cut(&e.message, MAX_MESSAGE);
    let mut s = format!(
        "{} {}:{}:{}: {}: {message}\n",
        crate::ui::error_prefix(),
        e.file,
        e.line,
        e.column,
        e.field
    );
    if e.line == 0 {
        return s;
    }
    if let Ok(text) = std::fs::read_to_string(&e.file)
        && let Some(src) = text.lines().nth(e.line - 1)
    {
        let num = e.line.to_string();
        let pad = " ".repeat(num.len());
        let (quoted, caret_at) = window(src, e.column.saturating_sub(1));
        let caret_pad: String = quoted
            .chars()
            .take(caret_at)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        s.push_str(&format!(
            "{pad} |\n{num} | {quoted}\n{pad} | {caret_pad}^\n"
        ));
    }
    s
}

/// At most `max` characters of `s`, saying how many more there were.
fn cut(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max).collect();
    format!("{head}… ({} more characters)", n - max)
}

/// The part of a source line around the character at `col` (0-based), with
/// `…` where it was cut, and where `col` falls in it.
fn window(line: &str, col: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= 2 * CONTEXT + 1 {
        return (line.to_string(), col);
    }
    let start = col.saturating_sub(CONTEXT);
    let end = (col + CONTEXT + 1).min(chars.len());
    let mut out = String::new();
    let mut caret = col - start;
    if start > 0 {
        out.push('…');
        caret += 1;
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    (out, caret)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_quoted_around_its_column() {
        let line = format!("{}X{}", "a".repeat(5000), "b".repeat(5000));
        let (quoted, caret) = window(&line, 5000);
        assert_eq!(quoted.chars().nth(caret), Some('X'));
        assert_eq!(quoted.chars().count(), 2 * CONTEXT + 1 + 2);
        assert!(quoted.starts_with('…') && quoted.ends_with('…'));
        let (short, at) = window("{\"sned\": 1}", 2);
        assert_eq!((short.as_str(), at), ("{\"sned\": 1}", 2));
        assert_eq!(
            cut(&"x".repeat(600), 500).len(),
            500 + "… (100 more characters)".len()
        );
    }
}
