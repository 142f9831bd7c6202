//! Checks a deserialized scenario and resolves it into the public model.
//!
//! Validation keeps going after a problem so the user sees every mistake in
//! one run; functions therefore always return a value (a harmless fallback
//! after reporting an error) and the caller discards the model when any
//! error was recorded.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;

use crate::error::{PathSegment, ScenarioError, format_path};
use crate::locate::{locate, locate_nearest};
use crate::model::*;
use crate::raw::*;
use crate::template::{substitute, template_variables};

mod expect_frame;
mod expect_log;
mod open;
mod send;
mod server;

use expect_frame::expect_frame;
use expect_log::expect_log;
use open::open;
use send::send;

/// Largest `fill.len`: far beyond any ESP32 buffer, small enough that a typo
/// cannot make the runner allocate gigabytes.
pub(crate) const MAX_FILL_LEN: u64 = 64 * 1024 * 1024;

const DEFAULT_TIMEOUT_MS: i64 = 2000;
const DEFAULT_CONN: &str = "c";

/// `base` extended by one object key.
fn at(base: &[PathSegment], key: &str) -> Vec<PathSegment> {
    let mut p = base.to_vec();
    p.push(PathSegment::Key(key.to_owned()));
    p
}

struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
    errors: Vec<ScenarioError>,
    /// Connections opened by earlier steps.
    conns: HashSet<String>,
    /// Variables defined by earlier steps, in order of definition.
    vars: Vec<String>,
    /// The side esp-ws plays.
    role: Role,
    /// Server role: the connection the latest `expect_connect` named (the
    /// default of the steps after it).
    newest_conn: Option<String>,
    /// Server role: `expect_connect` steps so far (for default names).
    connects: usize,
    /// The index of the step being validated.
    step_index: usize,
}

impl Ctx<'_> {
    fn error(&mut self, path: &[PathSegment], message: impl Into<String>) {
        let (line, column) = locate_nearest(self.text, path);
        self.errors.push(ScenarioError {
            file: self.file.to_owned(),
            line,
            column,
            field: format_path(path),
            message: message.into(),
        });
    }

    /// Checks a firmware profile name against the catalogue, and against
    /// the family of the scenario's folder.
    fn firmware_name(
        &mut self,
        path: &[PathSegment],
        name: &str,
        family: Option<&esp_ws_catalogue::Family>,
    ) {
        match esp_ws_catalogue::find(name) {
            None => self.error(path, esp_ws_catalogue::unknown_message(name)),
            Some(f) => {
                if let Some(fam) = family
                    && f.family != fam.name
                {
                    self.error(
                        path,
                        format!(
                            "{name:?} is a profile of the {} family, but the scenario lies in the folder of the {} family",
                            f.family, fam.name
                        ),
                    );
                }
            }
        }
    }

    /// Checks that an integer lies in `min..=max`; returns it if so.
    fn range(&mut self, path: &[PathSegment], value: i64, min: i64, max: i64) -> Option<i64> {
        if (min..=max).contains(&value) {
            Some(value)
        } else {
            self.error(path, format!("must be in {min}..={max}, got {value}"));
            None
        }
    }

    fn millis(&mut self, path: &[PathSegment], value: i64, min: i64) -> Duration {
        let ms = self.range(path, value, min, MAX_MS).unwrap_or(0);
        Duration::from_millis(ms as u64)
    }

    fn timeout(&mut self, base: &[PathSegment], value: Option<i64>) -> Option<Duration> {
        value.map(|v| self.millis(&at(base, "timeout_ms"), v, 1))
    }

    /// Reports fields of one group that were given together.
    ///
    /// The error points at the second of them in the file, which is the one
    /// the user most likely added by mistake.
    fn exclusive(&mut self, base: &[PathSegment], fields: &[(&str, bool)], note: &str) {
        let mut present: Vec<((usize, usize), &str)> = fields
            .iter()
            .filter(|(_, given)| *given)
            .map(|(name, _)| {
                let pos = locate(self.text, &at(base, name)).unwrap_or((usize::MAX, 0));
                (pos, *name)
            })
            .collect();
        if present.len() < 2 {
            return;
        }
        present.sort();
        let names: Vec<String> = present.iter().map(|(_, n)| format!("`{n}`")).collect();
        let list = match names.split_last() {
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        };
        self.error(
            &at(base, present[1].1),
            format!("{list} are mutually exclusive{note}"),
        );
    }

    fn hex(&mut self, path: &[PathSegment], s: &str) -> Vec<u8> {
        match decode_hex(s) {
            Ok(bytes) => bytes,
            Err(message) => {
                self.error(path, message);
                Vec::new()
            }
        }
    }

    /// Checks that every `${name}` in a template is defined by an earlier step.
    fn template(&mut self, path: &[PathSegment], s: &str) {
        match template_variables(s) {
            Err(message) => self.error(path, message),
            Ok(names) => {
                let mut reported = HashSet::new();
                for name in names {
                    if self.vars.contains(&name) || !reported.insert(name.clone()) {
                        continue;
                    }
                    let defined = if self.vars.is_empty() {
                        "none is defined yet".to_owned()
                    } else {
                        format!("defined so far: {}", self.vars.join(", "))
                    };
                    self.error(
                        path,
                        format!(
                            "undefined variable `${{{name}}}`: variables come from named groups \
                             (?P<name>…) of earlier expect_log/expect_frame regexes; {defined}"
                        ),
                    );
                }
            }
        }
    }

    /// Checks a regex template (variables, then compilation) and returns its
    /// named capture groups.
    fn regex(&mut self, path: &[PathSegment], pattern: &str) -> Vec<String> {
        self.template(path, pattern);
        let Ok(names) = template_variables(pattern) else {
            // Reported by `template`; guess the groups so later steps do not
            // drown in follow-up "undefined variable" errors.
            return guess_group_names(pattern);
        };
        // A variable's value is inserted as a literal at run time; any
        // literal stands in for it here. "0" also keeps `x{${n}}` valid.
        let probe_vars: HashMap<String, String> =
            names.iter().map(|n| (n.clone(), "0".to_owned())).collect();
        let probe = substitute(pattern, &probe_vars).unwrap_or_default();
        match regex::Regex::new(&probe) {
            Ok(re) => re.capture_names().flatten().map(str::to_owned).collect(),
            Err(err) => {
                let message = regex_error_message(&err, names.is_empty() && !probe.contains('\n'));
                self.error(path, message);
                guess_group_names(pattern)
            }
        }
    }

    fn matcher(&mut self, path: &[PathSegment], raw: RawMatcher) -> Matcher {
        match raw {
            RawMatcher::Exact(s) => {
                self.template(path, &s);
                Matcher::Exact(s)
            }
            RawMatcher::Prefix(s) => {
                self.template(&at(path, "prefix"), &s);
                Matcher::Prefix(s)
            }
            RawMatcher::Regex(s) => {
                // Matcher regexes check values; only step-level regexes of
                // expect_log/expect_frame define variables.
                self.regex(&at(path, "regex"), &s);
                Matcher::Regex(s)
            }
        }
    }

    fn opcode(&mut self, path: &[PathSegment], raw: RawOpcode) -> Option<Opcode> {
        match raw {
            RawOpcode::Number(n) if (0..=15).contains(&n) => Some(Opcode(n as u8)),
            RawOpcode::Name(name) => match Opcode::from_name(&name) {
                Some(op) => Some(op),
                None => {
                    self.error(
                        path,
                        format!(
                            "unknown opcode {name:?}, expected continuation, text, binary, \
                             close, ping, pong or 0..=15"
                        ),
                    );
                    None
                }
            },
            RawOpcode::Number(n) => {
                self.error(path, format!("opcode must be in 0..=15, got {n}"));
                None
            }
        }
    }

    fn rsv(&mut self, base: &[PathSegment], rsv: Option<i64>) -> Option<u8> {
        rsv.and_then(|v| self.range(&at(base, "rsv"), v, 0, 7))
            .map(|v| v as u8)
    }

    /// Resolves the connection a non-`open` step uses and checks it is open.
    fn conn(&mut self, base: &[PathSegment], conn: Option<String>) -> String {
        if self.role == Role::Server {
            return self.server_conn(base, conn);
        }
        let defaulted = conn.is_none();
        let name = conn.unwrap_or_else(|| DEFAULT_CONN.to_owned());
        if !self.conns.contains(&name) {
            let hint = if defaulted {
                " (`conn` defaults to \"c\")"
            } else {
                ""
            };
            self.error(
                &at(base, "conn"),
                format!("connection {name:?} is not opened by an earlier `open` step{hint}"),
            );
        }
        name
    }

    fn write(&mut self, base: &[PathSegment], raw: Option<RawWrite>) -> WriteOpts {
        let Some(raw) = raw else {
            return WriteOpts::default();
        };
        let base = at(base, "write");
        self.exclusive(
            &base,
            &[
                ("chunk", raw.chunk.is_some()),
                ("chunks", raw.chunks.is_some()),
            ],
            "",
        );
        let chunks = if let Some(size) = raw.chunk {
            let size = self
                .range(&at(&base, "chunk"), size, 1, i64::MAX)
                .unwrap_or(1);
            Chunking::Every(usize::try_from(size).unwrap_or(usize::MAX))
        } else if let Some(sizes) = raw.chunks {
            if sizes.is_empty() {
                self.error(
                    &at(&base, "chunks"),
                    "must not be empty (omit `write` to send everything at once)",
                );
            }
            let mut out = Vec::with_capacity(sizes.len());
            for (i, size) in sizes.into_iter().enumerate() {
                let mut p = at(&base, "chunks");
                p.push(PathSegment::Index(i));
                let size = self.range(&p, size, 1, i64::MAX).unwrap_or(1);
                out.push(usize::try_from(size).unwrap_or(usize::MAX));
            }
            Chunking::Sizes(out)
        } else {
            Chunking::Whole
        };
        let delay = raw
            .delay_ms
            .map(|ms| self.millis(&at(&base, "delay_ms"), ms, 0))
            .unwrap_or_default();
        WriteOpts { chunks, delay }
    }

    fn response(
        &mut self,
        path: &[PathSegment],
        raw: Option<RawResponseSpec>,
        allow_later: bool,
    ) -> ResponseSpec {
        match raw {
            None => ResponseSpec::Expect(ResponseExpect {
                status: 101,
                headers: IndexMap::new(),
                body: None,
                accept: true,
            }),
            Some(RawResponseSpec::Closed) => ResponseSpec::Closed,
            Some(RawResponseSpec::None) => ResponseSpec::None,
            Some(RawResponseSpec::Later) => {
                if !allow_later {
                    self.error(
                        path,
                        "\"later\" is only valid in an `open` step; expect_response checks \
                         the response now (use an object, \"closed\" or \"none\")",
                    );
                }
                ResponseSpec::Later
            }
            Some(RawResponseSpec::Expect(raw)) => {
                let status = match raw.status {
                    Some(s) => self.range(&at(path, "status"), s, 100, 599).unwrap_or(101),
                    None => 101,
                } as u16;
                let mut headers = IndexMap::new();
                let mut seen: HashMap<String, String> = HashMap::new();
                let headers_path = at(path, "headers");
                for (name, matcher) in raw.headers.unwrap_or_default() {
                    let p = at(&headers_path, &name);
                    self.header_name(&p, &name);
                    self.unique_header(&mut seen, &p, &name);
                    let matcher = matcher.map(|m| self.matcher(&p, m));
                    headers.insert(name, matcher);
                }
                let body = raw.body.map(|m| self.matcher(&at(path, "body"), m));
                ResponseSpec::Expect(ResponseExpect {
                    status,
                    headers,
                    body,
                    accept: raw.accept.unwrap_or(status == 101),
                })
            }
        }
    }

    /// Reports a header name already used (case-insensitively) in the same map.
    fn unique_header(
        &mut self,
        seen: &mut HashMap<String, String>,
        path: &[PathSegment],
        name: &str,
    ) {
        let key = name.to_ascii_lowercase();
        match seen.get(&key) {
            Some(first) => {
                let message = format!(
                    "duplicate header {name:?} (same as {first:?}: names are case-insensitive)"
                );
                self.error(path, message);
            }
            None => {
                seen.insert(key, name.to_owned());
            }
        }
    }

    fn header_name(&mut self, path: &[PathSegment], name: &str) {
        if name.is_empty() || name.contains([':', '\r', '\n']) {
            self.error(
                path,
                format!(
                    "invalid header name {name:?} (must be non-empty, without `:` or line breaks)"
                ),
            );
        }
    }
}

/// Decodes hex, ignoring spaces, tabs and line breaks so dumps can be pasted
/// as they are (the schema's hex pattern allows exactly these). Errors name
/// the character as the user wrote it, spaces counted.
pub(crate) fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    if let Some((i, c)) = s
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit() && !matches!(c, ' ' | '\t' | '\r' | '\n'))
    {
        return Err(format!(
            "invalid hex: {c:?} at character {} is not a hex digit",
            i + 1
        ));
    }
    let digits: String = s.chars().filter(char::is_ascii_hexdigit).collect();
    hex::decode(&digits).map_err(|_| {
        format!(
            "invalid hex: odd number of hex digits ({}); each byte takes two",
            digits.len()
        )
    })
}

/// One-line message for a regex error.
///
/// The regex crate's syntax errors are multi-line drawings (pattern, caret
/// line, `error: …`); a `file:line:col` message must fit on one line, so keep
/// the explanation and turn the caret into a character position.
fn regex_error_message(err: &regex::Error, with_position: bool) -> String {
    let text = err.to_string();
    let Some(at) = text.find("\nerror: ") else {
        return format!("invalid regex: {}", text.replace('\n', " "));
    };
    let explanation = text[at + "\nerror: ".len()..].replace('\n', " ");
    let position = text[..at]
        .lines()
        .find(|l| l.trim_start().starts_with('^'))
        .map(|caret| {
            caret
                .chars()
                .take_while(|&c| c == ' ')
                .count()
                .saturating_sub(4)
                + 1
        });
    match position {
        Some(p) if with_position => format!("invalid regex: {explanation} (pattern character {p})"),
        _ => format!("invalid regex: {explanation}"),
    }
}

/// Capture-group names of a pattern that does not compile, found by looking
/// for `(?P<name>` / `(?<name>`. Only used to limit follow-up errors.
fn guess_group_names(pattern: &str) -> Vec<String> {
    let mut names = Vec::new();
    for opener in ["(?P<", "(?<"] {
        let mut rest = pattern;
        while let Some(i) = rest.find(opener) {
            rest = &rest[i + opener.len()..];
            if let Some(end) = rest.find('>') {
                names.push(rest[..end].to_owned());
            }
        }
    }
    names
}

/// Why a scenario name cannot name files, if it cannot: it names the
/// snapshot (`snapshots/<name>.snap`) and the artifacts folder, which must
/// stay where they belong.
fn unplain_name(name: &str) -> Option<&'static str> {
    if name.contains(['/', '\\']) {
        return Some("contains a path separator");
    }
    if name.starts_with('.') {
        return Some("starts with a dot");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Some("contains a character other than letters, digits, `-`, `_` and `.`");
    }
    None
}

/// The family whose folder the file lies in: the nearest enclosing folder
/// named after a catalogue family (`scenarios/esp-http-server/x.json`).
fn family_of(file: &str) -> Option<&'static esp_ws_catalogue::Family> {
    let path = Path::new(file);
    path.parent()?
        .components()
        .rev()
        .find_map(|c| esp_ws_catalogue::family(&c.as_os_str().to_string_lossy()))
}

pub(crate) fn validate(
    raw: RawScenario,
    text: &str,
    file: &str,
) -> Result<Scenario, Vec<ScenarioError>> {
    let role = raw.role.unwrap_or_default();
    let mut ctx = Ctx {
        text,
        file,
        errors: Vec::new(),
        conns: HashSet::new(),
        vars: Vec::new(),
        role,
        newest_conn: None,
        connects: 0,
        step_index: 0,
    };
    let root: Vec<PathSegment> = Vec::new();

    if raw.version != 1 {
        ctx.error(
            &at(&root, "version"),
            format!("unsupported version {}, expected 1", raw.version),
        );
    }
    let name = match raw.name {
        Some(n) if n.trim().is_empty() => {
            ctx.error(
                &at(&root, "name"),
                "must not be empty (omit it to use the file name)",
            );
            n
        }
        Some(n) => {
            if let Some(why) = unplain_name(&n) {
                ctx.error(
                    &at(&root, "name"),
                    format!("{n:?} {why}: it names the snapshot and artifact files, so it must be plain (letters, digits, `-`, `_`, `.`)"),
                );
            }
            n
        }
        None => {
            let stem = Path::new(file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| file.to_owned());
            if let Some(why) = unplain_name(&stem) {
                ctx.error(
                    &root,
                    format!("the file name gives the scenario the name {stem:?}, which {why}: rename the file or set a plain `name` (letters, digits, `-`, `_`, `.`)"),
                );
            }
            stem
        }
    };
    let timeout = ctx.millis(
        &at(&root, "timeout_ms"),
        raw.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
        1,
    );
    let family = family_of(file);
    if let Some(fam) = family
        && fam.role != role.firmware_role()
    {
        let (path, given) = if raw.role.is_some() {
            (at(&root, "role"), format!("\"role\": \"{}\"", role.name()))
        } else {
            (root.clone(), "no `role` (the client role)".to_owned())
        };
        let message = match role {
            Role::Server => format!(
                "{given}: esp-ws plays the server, but the scenario lies in the folder of the {} family, whose firmware serves WebSocket (server-role scenarios belong to a family that dials out)",
                fam.name
            ),
            Role::Client => format!(
                "{given}: esp-ws plays the client, but the scenario lies in the folder of the {} family, whose firmware dials out: set \"role\": \"server\"",
                fam.name
            ),
        };
        ctx.error(&path, message);
    }
    if raw.firmware.as_ref().is_some_and(Vec::is_empty) {
        ctx.error(
            &at(&root, "firmware"),
            "must not be empty (omit it to apply to every firmware profile)",
        );
    }
    for (i, f) in raw.firmware.iter().flatten().enumerate() {
        let mut p = at(&root, "firmware");
        p.push(PathSegment::Index(i));
        ctx.firmware_name(&p, f, family);
    }
    let mut known_bugs = Vec::new();
    for (i, bug) in raw.known_bugs.unwrap_or_default().into_iter().enumerate() {
        let mut p = at(&root, "known_bugs");
        p.push(PathSegment::Index(i));
        if bug.firmware.is_empty() {
            ctx.error(
                &at(&p, "firmware"),
                "must name at least one firmware profile",
            );
        }
        for (j, f) in bug.firmware.iter().enumerate() {
            let mut fp = at(&p, "firmware");
            fp.push(PathSegment::Index(j));
            ctx.firmware_name(&fp, f, family);
        }
        if bug.issue.trim().is_empty() {
            ctx.error(
                &at(&p, "issue"),
                "must say where the bug is described (e.g. esp-idf#18227)",
            );
        }
        if let Some(only) = &raw.firmware
            && let Some(f) = bug.firmware.iter().find(|f| !only.contains(f))
        {
            ctx.error(
                &at(&p, "firmware"),
                format!(
                    "{f:?} is not in the scenario's `firmware` list, so it would never run there"
                ),
            );
        }
        known_bugs.push(KnownBug {
            firmware: bug.firmware,
            issue: bug.issue,
            note: bug.note,
        });
    }
    let mut normalize = Vec::new();
    for (i, rule) in raw.normalize.unwrap_or_default().into_iter().enumerate() {
        let mut p = at(&root, "normalize");
        p.push(PathSegment::Index(i));
        // Normalization runs on the snapshot, outside the variable world:
        // compile the pattern as it is.
        if let Err(err) = regex::Regex::new(&rule.regex) {
            let message = regex_error_message(&err, !rule.regex.contains('\n'));
            ctx.error(&at(&p, "regex"), message);
        }
        normalize.push(NormalizeRule {
            regex: rule.regex,
            replace: rule.replace,
        });
    }
    if raw.steps.is_empty() {
        ctx.error(&at(&root, "steps"), "must contain at least one step");
    }
    let mut steps = Vec::with_capacity(raw.steps.len());
    for (i, step) in raw.steps.into_iter().enumerate() {
        let step_path = vec![PathSegment::Key("steps".into()), PathSegment::Index(i)];
        let (line, column) = locate_nearest(text, &step_path);
        ctx.step_index = i;
        ctx.step_in_role(&step_path, step.kind());
        let (kind, comment) = step_kind(&mut ctx, &step_path, step);
        steps.push(Step {
            kind,
            comment,
            line,
            column,
        });
    }

    if !ctx.errors.is_empty() {
        let mut errors = ctx.errors;
        // Stable: errors at the same place keep the order they were found in.
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    Ok(Scenario {
        name,
        description: raw.description,
        role,
        timeout,
        log_level: raw.log_level.map_or(Level::Info, Level::from),
        family: family.map(|f| f.name.to_owned()),
        firmware: raw.firmware,
        known_bugs,
        normalize,
        needs_exact_segments: raw.needs_exact_segments.unwrap_or(false),
        steps,
    })
}

fn step_kind(
    ctx: &mut Ctx<'_>,
    step_path: &[PathSegment],
    step: RawStep,
) -> (StepKind, Option<String>) {
    let base = |kind: &str| at(step_path, kind);
    match step {
        RawStep::Open(r) => {
            let comment = r.comment.clone();
            (StepKind::Open(open(ctx, &base("open"), r)), comment)
        }
        RawStep::ExpectResponse(r) => {
            let b = base("expect_response");
            let conn = ctx.conn(&b, r.conn);
            let response = ctx.response(&at(&b, "response"), Some(r.response), false);
            let timeout = ctx.timeout(&b, r.timeout_ms);
            let step = ExpectResponse {
                conn,
                response,
                timeout,
            };
            (StepKind::ExpectResponse(step), r.comment)
        }
        RawStep::Send(r) => {
            let comment = r.comment.clone();
            (StepKind::Send(send(ctx, &base("send"), r)), comment)
        }
        RawStep::SendRaw(r) => {
            let b = base("send_raw");
            let conn = ctx.conn(&b, r.conn);
            ctx.exclusive(
                &b,
                &[("hex", r.hex.is_some()), ("text", r.text.is_some())],
                "",
            );
            let payload = match (r.hex, r.text) {
                (Some(hex), _) => Payload::Bytes(ctx.hex(&at(&b, "hex"), &hex)),
                (None, Some(text)) => {
                    ctx.template(&at(&b, "text"), &text);
                    Payload::Text(text)
                }
                (None, None) => {
                    ctx.error(&b, "send_raw needs the bytes to send: `hex` or `text`");
                    Payload::Empty
                }
            };
            let write = ctx.write(&b, r.write);
            let step = SendRaw {
                conn,
                payload,
                write,
            };
            (StepKind::SendRaw(step), r.comment)
        }
        RawStep::ExpectFrame(r) => {
            let comment = r.comment.clone();
            let step = expect_frame(ctx, &base("expect_frame"), r);
            (StepKind::ExpectFrame(step), comment)
        }
        RawStep::ExpectClose(r) => {
            let b = base("expect_close");
            let conn = ctx.conn(&b, r.conn);
            let code = r
                .code
                .and_then(|c| ctx.range(&at(&b, "code"), c, 0, 65_535))
                .map(|c| c as u16);
            let reason = r.reason.map(|m| ctx.matcher(&at(&b, "reason"), m));
            let empty = r.empty.unwrap_or(false);
            if empty && (r.code.is_some() || reason.is_some()) {
                ctx.error(
                    &at(&b, "empty"),
                    "`empty: true` cannot be combined with `code` or `reason` \
                     (an empty CLOSE has neither)",
                );
            }
            let timeout = ctx.timeout(&b, r.timeout_ms);
            let step = ExpectClose {
                conn,
                code,
                reason,
                empty,
                timeout,
            };
            (StepKind::ExpectClose(step), r.comment)
        }
        RawStep::ExpectNoFrame(r) => {
            let b = base("expect_no_frame");
            let conn = ctx.conn(&b, r.conn);
            let duration = ctx.millis(&at(&b, "for_ms"), r.for_ms, 1);
            (
                StepKind::ExpectNoFrame(ExpectNoFrame { conn, duration }),
                r.comment,
            )
        }
        RawStep::ExpectClosed(r) => {
            let b = base("expect_closed");
            let conn = ctx.conn(&b, r.conn);
            let timeout = ctx.timeout(&b, r.timeout_ms);
            let step = ExpectClosed {
                conn,
                how: r.how.unwrap_or_default(),
                timeout,
            };
            (StepKind::ExpectClosed(step), r.comment)
        }
        RawStep::Close(r) => {
            let b = base("close");
            let conn = ctx.conn(&b, r.conn);
            let step = Close {
                conn,
                how: r.how.unwrap_or_default(),
            };
            (StepKind::Close(step), r.comment)
        }
        RawStep::ExpectLog(r) => {
            let comment = r.comment.clone();
            (
                StepKind::ExpectLog(expect_log(ctx, &base("expect_log"), r)),
                comment,
            )
        }
        RawStep::Sleep(r) => {
            let b = base("sleep");
            let duration = ctx.millis(&at(&b, "ms"), r.ms, 0);
            (StepKind::Sleep(Sleep { duration }), r.comment)
        }
        RawStep::ExpectConnect(r) => {
            let comment = r.comment.clone();
            let step = server::expect_connect(ctx, &base("expect_connect"), r);
            (StepKind::ExpectConnect(step), comment)
        }
        RawStep::ExpectRequest(r) => {
            let comment = r.comment.clone();
            let step = server::expect_request(ctx, &base("expect_request"), r);
            (StepKind::ExpectRequest(step), comment)
        }
        RawStep::Accept(r) => {
            let (step, comment) = server::accept(ctx, &base("accept"), r);
            (StepKind::Accept(step), comment)
        }
        RawStep::Drop(r) => {
            let b = base("drop");
            let conn = ctx.conn(&b, r.conn);
            let step = DropConnection {
                conn,
                how: r.how.unwrap_or_default(),
            };
            (StepKind::Drop(step), r.comment)
        }
        RawStep::Silence(r) => {
            let b = base("silence");
            let conn = ctx.conn(&b, r.conn);
            let duration = ctx.millis(&at(&b, "ms"), r.ms, 1);
            (StepKind::Silence(Silence { conn, duration }), r.comment)
        }
    }
}

fn define(ctx: &mut Ctx<'_>, names: Vec<String>) {
    for name in names {
        if !ctx.vars.contains(&name) {
            ctx.vars.push(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decoding() {
        assert_eq!(decode_hex("").unwrap(), Vec::<u8>::new());
        assert_eq!(decode_hex("81 fE\n0a").unwrap(), vec![0x81, 0xfe, 0x0a]);
        assert_eq!(decode_hex("8 1").unwrap(), vec![0x81]);
        // Only the whitespace the schema pattern allows is skipped.
        assert!(decode_hex("81\u{c}").is_err());
        assert_eq!(
            decode_hex("8g").unwrap_err(),
            "invalid hex: 'g' at character 2 is not a hex digit"
        );
        assert_eq!(
            decode_hex("abc").unwrap_err(),
            "invalid hex: odd number of hex digits (3); each byte takes two"
        );
    }

    #[test]
    #[expect(
        clippy::invalid_regex,
        reason = "the test needs patterns that do not compile"
    )]
    fn regex_messages_are_one_line() {
        let err = regex::Regex::new("ab(c").unwrap_err();
        assert_eq!(
            regex_error_message(&err, true),
            "invalid regex: unclosed group (pattern character 3)"
        );
        assert_eq!(
            regex_error_message(&err, false),
            "invalid regex: unclosed group"
        );
        let err = regex::Regex::new("a\n(").unwrap_err();
        assert!(!regex_error_message(&err, false).contains('\n'));
    }

    #[test]
    fn group_names_are_guessed_from_broken_patterns() {
        assert_eq!(
            guess_group_names("(?P<a>x)(?<b>y)(?P<c"),
            vec!["a".to_owned(), "b".to_owned()]
        );
    }
}
