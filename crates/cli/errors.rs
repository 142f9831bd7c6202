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
