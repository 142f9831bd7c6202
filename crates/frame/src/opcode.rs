//! Frame opcodes, including the reserved ones the harness must be able to send.

use std::fmt;
use std::str::FromStr;

/// A WebSocket opcode.
///
/// This is a plain number rather than an enum because the harness has to
/// send and report reserved opcodes (3..=7, 11..=15) just as faithfully as
/// the defined ones. Only the low 4 bits are meaningful on the wire; build
/// values with [`Opcode::new`] (which keeps only those bits) or the
/// associated constants. [`crate::encode()`] rejects a value above 15 rather
/// than silently letting it spill into the FIN/RSV bits.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Opcode(pub u8);

impl Opcode {
    pub const CONTINUATION: Opcode = Opcode(0x0);
    pub const TEXT: Opcode = Opcode(0x1);
    pub const BINARY: Opcode = Opcode(0x2);
    pub const CLOSE: Opcode = Opcode(0x8);
    pub const PING: Opcode = Opcode(0x9);
    pub const PONG: Opcode = Opcode(0xA);

    /// The names scenarios use, with their opcodes.
    pub const NAMED: &[(&'static str, Opcode)] = &[
        ("continuation", Opcode::CONTINUATION),
        ("text", Opcode::TEXT),
        ("binary", Opcode::BINARY),
        ("close", Opcode::CLOSE),
        ("ping", Opcode::PING),
        ("pong", Opcode::PONG),
    ];

    /// An opcode by one of [`Opcode::NAMED`]'s names, case-insensitively.
    pub fn from_name(name: &str) -> Option<Opcode> {
        Self::NAMED
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, op)| op)
    }

    /// How scenarios spell it: one of [`Opcode::NAMED`]'s names, or its
    /// number.
    pub fn spelling(self) -> String {
        Self::NAMED
            .iter()
            .find(|&&(_, op)| op == self)
            .map_or_else(|| self.value().to_string(), |&(n, _)| n.to_string())
    }

    /// Builds an opcode from the low 4 bits of `n` (the rest is dropped, as
    /// it would be when reading the nibble off the wire).
    pub const fn new(n: u8) -> Opcode {
        Opcode(n & 0x0F)
    }

    /// The 4-bit value.
    pub const fn value(self) -> u8 {
        self.0 & 0x0F
    }

    /// Control frames are those with bit 3 set (0x8..=0xF), reserved or not;
    /// RFC 6455 applies the control-frame rules (<= 125 bytes, no
    /// fragmentation) to the whole range.
    pub fn is_control(self) -> bool {
        self.value() & 0x08 != 0
    }

    /// Opcodes RFC 6455 reserves for future use: 3..=7 and 11..=15.
    pub fn is_reserved(self) -> bool {
        matches!(self.value(), 3..=7 | 11..=15)
    }

    /// Upper-case name for defined opcodes, `OPCODE-<n>` for reserved ones.
    pub fn name(self) -> String {
        match self.value() {
            0x0 => "CONTINUATION".to_string(),
            0x1 => "TEXT".to_string(),
            0x2 => "BINARY".to_string(),
            0x8 => "CLOSE".to_string(),
            0x9 => "PING".to_string(),
            0xA => "PONG".to_string(),
            n => format!("OPCODE-{n}"),
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Error from parsing an [`Opcode`] from text (e.g. a scenario file).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid opcode {input:?}: expected one of continuation (cont), text, binary, close, ping, pong, or a number 0..=15"
)]
pub struct ParseOpcodeError {
    /// The text that failed to parse.
    pub input: String,
}

impl FromStr for Opcode {
    type Err = ParseOpcodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let named = if t.eq_ignore_ascii_case("cont") {
            Some(Opcode::CONTINUATION)
        } else {
            Opcode::from_name(t)
        };
        if let Some(op) = named {
            return Ok(op);
        }
        // Only plain decimal digits: `u8::from_str` would also accept "+3",
        // which is not something a scenario author should rely on.
        if !t.is_empty()
            && t.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = t.parse::<u8>()
            && n <= 15
        {
            return Ok(Opcode(n));
        }
        Err(ParseOpcodeError {
            input: s.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        for n in 0u8..=15 {
            let op = Opcode(n);
            assert_eq!(op.is_control(), n >= 8, "{n}");
            assert_eq!(
                op.is_reserved(),
                (3..=7).contains(&n) || (11..=15).contains(&n),
                "{n}"
            );
        }
        assert!(!Opcode::TEXT.is_control());
        assert!(Opcode::PING.is_control());
        assert!(Opcode::CLOSE.is_control());
        assert!(!Opcode::PONG.is_reserved());
    }

    #[test]
    fn names() {
        assert_eq!(Opcode::CONTINUATION.name(), "CONTINUATION");
        assert_eq!(Opcode::TEXT.name(), "TEXT");
        assert_eq!(Opcode::BINARY.name(), "BINARY");
        assert_eq!(Opcode::CLOSE.name(), "CLOSE");
        assert_eq!(Opcode::PING.name(), "PING");
        assert_eq!(Opcode::PONG.name(), "PONG");
        assert_eq!(Opcode(3).name(), "OPCODE-3");
        assert_eq!(Opcode(15).to_string(), "OPCODE-15");
    }

    #[test]
    fn scenario_spelling() {
        assert_eq!(Opcode::PONG.spelling(), "pong");
        assert_eq!(Opcode(3).spelling(), "3");
        for (name, op) in Opcode::NAMED {
            assert_eq!(Opcode::from_name(&name.to_uppercase()), Some(*op));
            assert_eq!(op.spelling(), *name);
        }
    }

    #[test]
    fn new_keeps_low_nibble() {
        assert_eq!(Opcode::new(0x81), Opcode::TEXT);
        assert_eq!(Opcode::new(0x0F), Opcode(15));
        assert_eq!(Opcode(0x21).value(), 1);
    }

    #[test]
    fn parse() {
        assert_eq!("text".parse::<Opcode>().unwrap(), Opcode::TEXT);
        assert_eq!("TEXT".parse::<Opcode>().unwrap(), Opcode::TEXT);
        assert_eq!("Cont".parse::<Opcode>().unwrap(), Opcode::CONTINUATION);
        assert_eq!(
            "continuation".parse::<Opcode>().unwrap(),
            Opcode::CONTINUATION
        );
        assert_eq!("binary".parse::<Opcode>().unwrap(), Opcode::BINARY);
        assert_eq!("close".parse::<Opcode>().unwrap(), Opcode::CLOSE);
        assert_eq!("PiNg".parse::<Opcode>().unwrap(), Opcode::PING);
        assert_eq!("pong".parse::<Opcode>().unwrap(), Opcode::PONG);
        assert_eq!("0".parse::<Opcode>().unwrap(), Opcode::CONTINUATION);
        assert_eq!("11".parse::<Opcode>().unwrap(), Opcode(11));
        assert_eq!("15".parse::<Opcode>().unwrap(), Opcode(15));
        for bad in ["16", "255", "256", "-1", "+3", "", "texts", "0x1"] {
            let err = bad.parse::<Opcode>().unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("continuation"), "{msg}");
            assert!(msg.contains("pong"), "{msg}");
            assert_eq!(err.input, bad);
        }
    }

    #[test]
    fn display_round_trips_through_from_str_for_named() {
        for op in [
            Opcode::CONTINUATION,
            Opcode::TEXT,
            Opcode::BINARY,
            Opcode::CLOSE,
            Opcode::PING,
            Opcode::PONG,
        ] {
            assert_eq!(op.to_string().parse::<Opcode>().unwrap(), op);
        }
    }
}
