//! Making serial logs comparable between runs.

use regex::Regex;

use crate::Line;

/// One rewrite applied by a [`Normalizer`].
#[derive(Clone, Debug)]
pub enum Rule {
    /// Every match of `regex` is replaced by `replacement`, which may refer
    /// to capture groups as `$1` / `${name}` (see [`Regex::replace_all`]).
    Regex { regex: Regex, replacement: String },
    /// Every occurrence of `from` is replaced by `to`, verbatim.
    Literal { from: String, to: String },
    /// Every match of `regex` is replaced by what `replace` makes of it
    /// (a built-in rule that must look at what it matched).
    Computed {
        regex: Regex,
        replace: fn(&regex::Captures<'_>) -> String,
    },
}

impl Rule {
    fn apply(&self, text: &str) -> String {
        match self {
            Rule::Regex { regex, replacement } => {
                regex.replace_all(text, replacement.as_str()).into_owned()
            }
            Rule::Literal { from, to } => text.replace(from.as_str(), to),
            Rule::Computed { regex, replace } => regex.replace_all(text, *replace).into_owned(),
        }
    }
}

/// Rewrites lines so that two runs of the same firmware produce the same
/// text: timestamps are always replaced by `T`, colours dropped, and the
/// rules applied.
///
/// Literal rules run before regex rules (so a literal can pin down a known
/// value, e.g. the test machine's IP, before a generic pattern erases it),
/// longest first (so `192.168.1.10` is not pre-empted by `192.168.1.1`).
/// Regex rules run in the order they were added.
#[derive(Clone, Debug, Default)]
pub struct Normalizer {
    /// Literals (sorted longest first) followed by regexes (in insertion
    /// order); kept in application order so `rules()` shows what happens.
    rules: Vec<Rule>,
}

impl Normalizer {
    /// No rules: only the timestamp is replaced.
    pub fn new() -> Self {
        Normalizer::default()
    }

    /// [`Normalizer::new`] plus rules for the values that legitimately vary
    /// between runs of the same ESP-IDF firmware.
    pub fn esp_idf() -> Self {
        let mut n = Normalizer::new();
        // Pointers (`%p`, event-loop handles, heap and stack addresses in
        // backtraces) change with heap layout and build. Only 8-16 hex
        // digits count as an address: shorter values such as `0x81` (a
        // frame's first byte) or `rst:0xc` (reset reason) are data.
        n.builtin(r"\b0x[0-9a-fA-F]{8,16}\b", "0x[ADDR]");
        // IPv6 as ESP-IDF prints it (`IPV6STR`: eight groups of `%04x`);
        // link-local addresses derive from the MAC and global ones from the
        // network, so both differ between boards and networks.
        n.builtin(r"\b[0-9a-fA-F]{4}(?::[0-9a-fA-F]{4}){7}\b", "[IP6]");
        // IPv4 addresses come from DHCP or from the host running the test,
        // and peer ports are ephemeral. With a port first, so that the port
        // is recognised as one before the bare address rule runs.
        n.builtin(&format!(r"\b{IPV4}:[0-9]{{1,5}}\b"), "[IP]:[PORT]");
        // NodeMCU's banner names its version in four parts (NODE_VERSION,
        // `NodeMCU 3.0.0.0`), which is not an address.
        n.add_rule(Rule::Computed {
            regex: Regex::new(&format!(r"(NodeMCU )?\b{IPV4}\b"))
                .expect("built-in normalizer pattern is valid"),
            replace: |c| match c.get(1) {
                Some(_) => c[0].to_owned(),
                None => "[IP]".to_owned(),
            },
        });
        n
    }

    /// Replaces socket numbers in esp_http_server's debug messages. Not part
    /// of [`Normalizer::esp_idf`] because on a given target the numbering is
    /// deterministic and worth comparing; use this when comparing against a
    /// build whose numbering differs (e.g. the linux target, where lwIP's
    /// socket offset does not apply).
    pub fn add_socket_fd_rules(&mut self) {
        // `httpd_accept_conn: newfd = 57`, `httpd_sess_delete: fd = 57`.
        self.builtin(r"\b(newfd|fd) = [0-9]+\b", "${1} = [FD]");
        // `processing socket 57`, `listen socket 54`, `to sock 57`,
        // `... fd 57`.
        self.builtin(r"\b(socket|sock|fd) [0-9]+\b", "${1} [FD]");
        // `Try closing WS connection at FD: 7`.
        self.builtin(r"\bFD: [0-9]+\b", "FD: [FD]");
        // `doing select maxfd+1 = 56`: a count derived from socket numbers,
        // not a socket itself, hence a different placeholder.
        self.builtin(r"\bmaxfd\+1 = [0-9]+\b", "maxfd+1 = [N]");
    }

    /// Adds a regex rule, applied after all literal rules and after the
    /// regex rules added before it.
    pub fn add_regex(&mut self, pattern: &str, replacement: &str) -> Result<(), regex::Error> {
        let regex = Regex::new(pattern)?;
        self.add_rule(Rule::Regex {
            regex,
            replacement: replacement.to_owned(),
        });
        Ok(())
    }

    /// Adds a literal rule. An empty `from` is ignored: it would match
    /// between every pair of characters.
    pub fn add_literal(&mut self, from: &str, to: &str) {
        self.add_rule(Rule::Literal {
            from: from.to_owned(),
            to: to.to_owned(),
        });
    }

    /// Adds a rule of either kind, keeping the application order described
    /// on [`Normalizer`].
    pub fn add_rule(&mut self, rule: Rule) {
        match &rule {
            Rule::Literal { from, .. } => {
                if from.is_empty() {
                    return;
                }
                // After every literal at least as long (so equal lengths
                // keep insertion order), before shorter ones and all regexes.
                let at = self
                    .rules
                    .iter()
                    .position(|r| match r {
                        Rule::Literal { from: f, .. } => f.len() < from.len(),
                        Rule::Regex { .. } | Rule::Computed { .. } => true,
                    })
                    .unwrap_or(self.rules.len());
                self.rules.insert(at, rule);
            }
            Rule::Regex { .. } | Rule::Computed { .. } => self.rules.push(rule),
        }
    }

    /// The rules in the order they are applied.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Applies the rules to arbitrary text.
    pub fn apply(&self, text: &str) -> String {
        self.rules
            .iter()
            .fold(text.to_owned(), |acc, rule| rule.apply(&acc))
    }

    /// The normalized form of a line: `{letter} (T) {tag}: {message}` for a
    /// record, with the rules applied to the `{tag}: {message}` part; the
    /// rules applied to the text otherwise.
    pub fn normalize(&self, line: &Line) -> String {
        match line {
            Line::Log(r) => format!(
                "{} (T) {}",
                r.level.letter(),
                self.apply(&format!("{}: {}", r.tag, r.message))
            ),
            Line::Other(text) => self.apply(text),
        }
    }

    fn builtin(&mut self, pattern: &str, replacement: &str) {
        self.add_regex(pattern, replacement)
            .expect("built-in normalizer pattern is valid");
    }
}

/// One IPv4 octet, 0-255, so that version strings like `v4.4.1.300` or
/// dotted counters do not pass for addresses.
const IPV4: &str = r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_line;

    #[track_caller]
    fn check_with(n: &Normalizer, input: &str, expected: &str) {
        assert_eq!(n.normalize(&parse_line(input)), expected, "input {input:?}");
    }

    #[test]
    fn plain_normalizer_only_replaces_timestamps() {
        let n = Normalizer::new();
        #[track_caller]
        fn check(n: &Normalizer, input: &str, expected: &str) {
            check_with(n, input, expected);
        }
        check(
            &n,
            "I (1234) app: at 0x3ffb1234",
            "I (T) app: at 0x3ffb1234",
        );
        check(&n, "I (12:34:56.789) app: hi", "I (T) app: hi");
        check(&n, "\x1b[0;31mE (5) app: red\x1b[0m", "E (T) app: red");
        check(&n, "I (567) wifi:mode : sta", "I (T) wifi: mode : sta");
        check(&n, "ets Jul 29 2019 12:21:46", "ets Jul 29 2019 12:21:46");
        check(&n, "", "");
        assert!(n.rules().is_empty());
    }

    #[test]
    fn esp_idf_rules() {
        let n = Normalizer::esp_idf();
        #[track_caller]
        fn check(n: &Normalizer, input: &str, expected: &str) {
            check_with(n, input, expected);
        }
        // Pointers.
        check(
            &n,
            "I (100) event: handler 0x3ffb4a2c registered",
            "I (T) event: handler 0x[ADDR] registered",
        );
        check(
            &n,
            "Backtrace: 0x400d1234:0x3ffb5f10 0x400D5678:0x3ffb5f30",
            "Backtrace: 0x[ADDR]:0x[ADDR] 0x[ADDR]:0x[ADDR]",
        );
        check(
            &n,
            "abort() was called at PC 0x400d1234 on core 0",
            "abort() was called at PC 0x[ADDR] on core 0",
        );
        check(&n, "I (1) p: 0x00007ffd12345678", "I (T) p: 0x[ADDR]");
        check(&n, "load:0x3fff0030,len:6380", "load:0x[ADDR],len:6380");
        // Not pointers.
        check(
            &n,
            "I (200) ws: First byte received: 0x81",
            "I (T) ws: First byte received: 0x81",
        );
        check(
            &n,
            "rst:0xc (SW_CPU_RESET),boot:0x12 (SPI_FAST_FLASH_BOOT)",
            "rst:0xc (SW_CPU_RESET),boot:0x12 (SPI_FAST_FLASH_BOOT)",
        );
        check(&n, "I (1) p: 0x1234567", "I (T) p: 0x1234567");
        check(
            &n,
            "I (1) p: 0x12345678901234567",
            "I (T) p: 0x12345678901234567",
        );
        check(&n, "I (1) p: 0x3ffb4a2cz", "I (T) p: 0x3ffb4a2cz");
        check(&n, "I (1) p: 3ffb4a2c", "I (T) p: 3ffb4a2c");
        // IPv4.
        check(
            &n,
            "I (300) esp_netif_handlers: sta ip: 10.0.2.15, mask: 255.255.255.0, gw: 10.0.2.2",
            "I (T) esp_netif_handlers: sta ip: [IP], mask: [IP], gw: [IP]",
        );
        check(
            &n,
            "I (400) ws: client 127.0.0.1:8080 connected",
            "I (T) ws: client [IP]:[PORT] connected",
        );
        check(&n, "got ip:192.168.4.2.", "got ip:[IP].");
        check(&n, "NodeMCU 3.0.0.0 ", "NodeMCU 3.0.0.0 ");
        check(&n, "NodeMCU at 10.0.0.1", "NodeMCU at [IP]");
        // Not IPv4.
        check(
            &n,
            "I (1) boot: ESP-IDF v5.1.2 2nd stage",
            "I (T) boot: ESP-IDF v5.1.2 2nd stage",
        );
        check(&n, "I (1) t: 256.1.1.1", "I (T) t: 256.1.1.1");
        check(&n, "I (1) t: 1.2.3", "I (T) t: 1.2.3");
        check(&n, "I (1) t: at 12:34:56.789", "I (T) t: at 12:34:56.789");
        // IPv6.
        check(
            &n,
            "I (500) example_connect: Got IPv6 event: Interface \"example_netif_sta\" address: fe80:0000:0000:0000:c6dd:57ff:fe5f:1a2c, type: ESP_IP6_ADDR_IS_LINK_LOCAL",
            "I (T) example_connect: Got IPv6 event: Interface \"example_netif_sta\" address: [IP6], type: ESP_IP6_ADDR_IS_LINK_LOCAL",
        );
        // Not IPv6 in ESP-IDF's form.
        check(&n, "I (1) t: fe80::1", "I (T) t: fe80::1");
        check(
            &n,
            "I (1) t: fe80:0000:0000:0000:c6dd:57ff:fe5f",
            "I (T) t: fe80:0000:0000:0000:c6dd:57ff:fe5f",
        );
        // Socket numbers are left alone by default.
        check(
            &n,
            "D (17552) httpd: httpd_accept_conn: newfd = 57",
            "D (T) httpd: httpd_accept_conn: newfd = 57",
        );
    }

    #[test]
    fn socket_fd_rules() {
        let mut n = Normalizer::esp_idf();
        n.add_socket_fd_rules();
        #[track_caller]
        fn check(n: &Normalizer, input: &str, expected: &str) {
            check_with(n, input, expected);
        }
        check(
            &n,
            "D (17552) httpd: httpd_accept_conn: newfd = 57",
            "D (T) httpd: httpd_accept_conn: newfd = [FD]",
        );
        check(
            &n,
            "D (4972) httpd: httpd_server: doing select maxfd+1 = 56",
            "D (T) httpd: httpd_server: doing select maxfd+1 = [N]",
        );
        check(
            &n,
            "D (17822) httpd_uri: httpd_uri: Responding WS handshake to sock 57",
            "D (T) httpd_uri: httpd_uri: Responding WS handshake to sock [FD]",
        );
        check(
            &n,
            "D (1427821) httpd_parse: httpd_req_cleanup: Try closing WS connection at FD: 7",
            "D (T) httpd_parse: httpd_req_cleanup: Try closing WS connection at FD: [FD]",
        );
        check(
            &n,
            "D (1) httpd_sess: httpd_sess_delete: fd = 57",
            "D (T) httpd_sess: httpd_sess_delete: fd = [FD]",
        );
        check(
            &n,
            "D (1) httpd: httpd_process_session: processing socket 57",
            "D (T) httpd: httpd_process_session: processing socket [FD]",
        );
        check(
            &n,
            "D (1) httpd: httpd_server: processing listen socket 54",
            "D (T) httpd: httpd_server: processing listen socket [FD]",
        );
        check(
            &n,
            "D (1) httpd_sess: httpd_sess_trigger_close_: fd 57",
            "D (T) httpd_sess: httpd_sess_trigger_close_: fd [FD]",
        );
        // Numbers in other words stay.
        check(&n, "I (1) t: socks 5 proxy", "I (T) t: socks 5 proxy");
        check(&n, "I (1) t: prefd = 3", "I (T) t: prefd = 3");
        check(&n, "I (1) t: socket error -1", "I (T) t: socket error -1");
        check(&n, "I (1) t: newfd = -1", "I (T) t: newfd = -1");
        check(&n, "I (1) t: sock 57x", "I (T) t: sock 57x");
    }

    #[test]
    fn literal_rules() {
        let mut n = Normalizer::esp_idf();
        n.add_literal("", "never");
        n.add_literal("192.168.1.1", "[GW]");
        n.add_literal("192.168.1.10", "[HOST]");
        n.add_literal("myssid", "[SSID]");
        n.add_literal("0x3ffb0000", "[KNOWN]");
        #[track_caller]
        fn check(n: &Normalizer, input: &str, expected: &str) {
            check_with(n, input, expected);
        }
        // Longest literal first, and literals before the IPv4 regex.
        check(
            &n,
            "I (1) t: host 192.168.1.10 via 192.168.1.1 and 192.168.1.2",
            "I (T) t: host [HOST] via [GW] and [IP]",
        );
        // Applies to the tag too, and to Other lines.
        check(
            &n,
            "I (1) myssid: joined myssid",
            "I (T) [SSID]: joined [SSID]",
        );
        check(&n, "SSID myssid", "SSID [SSID]");
        // Before the pointer regex.
        check(
            &n,
            "I (1) t: 0x3ffb0000 0x3ffb0001",
            "I (T) t: [KNOWN] 0x[ADDR]",
        );
        // The empty literal was ignored.
        assert_eq!(
            n.rules()
                .iter()
                .filter(|r| matches!(r, Rule::Literal { .. }))
                .count(),
            4
        );
        assert!(matches!(n.rules()[0], Rule::Literal { ref from, .. } if from == "192.168.1.10"));
    }

    #[test]
    fn regex_rules() {
        let mut n = Normalizer::new();
        n.add_regex(r"heap: (\d+)", "heap: [N]").unwrap();
        n.add_regex(r"(?P<k>took) \d+ ms", "${k} [MS] ms").unwrap();
        assert!(n.add_regex(r"(unclosed", "x").is_err());
        assert_eq!(n.rules().len(), 2);
        check_with(&n, "I (9) mem: heap: 123456", "I (T) mem: heap: [N]");
        check_with(&n, "I (9) t: took 15 ms", "I (T) t: took [MS] ms");
        // Regex rules run in insertion order, each on the previous result.
        let mut n = Normalizer::new();
        n.add_regex("a", "b").unwrap();
        n.add_regex("b", "c").unwrap();
        assert_eq!(n.apply("ab"), "cc");
    }
}
