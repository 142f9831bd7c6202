//! The `--impair` specification: `delay=10ms,jitter=5ms,chunk=1..64,...`.

use std::fmt;
use std::time::Duration;

/// Which way an impairment applies.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    /// Client to target (what the firmware's parser sees).
    Up,
    /// Target to client.
    Down,
    #[default]
    Both,
}

impl Direction {
    pub fn includes(self, up: bool) -> bool {
        match self {
            Direction::Both => true,
            Direction::Up => up,
            Direction::Down => !up,
        }
    }
}

/// How the proxy treats each connection. Everything is off by default.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Impairment {
    /// Added to every write (latency; order is kept).
    pub delay: Duration,
    /// A random extra delay per write, up to this much.
    pub jitter: Duration,
    /// Each write is cut into pieces of a random size in this range, each
    /// its own write (and its own delay).
    pub chunk: Option<(usize, usize)>,
    /// Bytes per second, per direction.
    pub bandwidth: Option<u64>,
    /// Once, after this many bytes have gone up, hold the link this long.
    pub stall: Option<(Duration, u64)>,
    /// After this many bytes have gone up, reset the connection (both
    /// sides get an RST), mid-frame if that is where the count falls.
    pub reset_after: Option<u64>,
    /// Which way delay, jitter, chunks and bandwidth apply.
    pub direction: Direction,
    /// Seed of the random choices (jitter, chunk sizes), so that a run can
    /// be repeated; each connection draws from its own sequence.
    pub seed: u64,
}

/// A bad `--impair` value: which item, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub item: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.item, self.message)
    }
}

impl std::error::Error for SpecError {}

const KEYS: &str = "delay=10ms, jitter=5ms, chunk=1..64 (or chunk=16), bandwidth=20k (bytes/s), stall=500ms@1000, reset=@2000, dir=up|down|both, seed=N";

fn duration(v: &str) -> Result<Duration, String> {
    humantime::parse_duration(v).map_err(|e| format!("expected a duration such as 10ms ({e})"))
}

fn count(v: &str) -> Result<u64, String> {
    let (digits, mult) = match v.strip_suffix(['k', 'K']) {
        Some(d) => (d, 1_000),
        None => match v.strip_suffix('M') {
            Some(d) => (d, 1_000_000),
            None => (v, 1),
        },
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("expected a whole number (k and M suffixes allowed), not {v:?}"))
}

impl Impairment {
    /// Parses `key=value,key=value`. An empty string means no impairment.
    pub fn parse(spec: &str) -> Result<Impairment, SpecError> {
        let mut imp = Impairment::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let err = |message: String| SpecError {
                item: item.to_string(),
                message,
            };
            let Some((key, value)) = item.split_once('=') else {
                return Err(err(format!("expected key=value; the keys are: {KEYS}")));
            };
            match key {
                "delay" => imp.delay = duration(value).map_err(err)?,
                "jitter" => imp.jitter = duration(value).map_err(err)?,
                "chunk" => {
                    let (lo, hi) = match value.split_once("..") {
                        Some((a, b)) => (count(a).map_err(err)?, count(b).map_err(err)?),
                        None => {
                            let n = count(value).map_err(err)?;
                            (n, n)
                        }
                    };
                    if lo == 0 || hi < lo {
                        return Err(err(
                            "expected sizes MIN..MAX with 1 <= MIN <= MAX, e.g. 1..64".into(),
                        ));
                    }
                    imp.chunk = Some((lo as usize, hi as usize));
                }
                "bandwidth" => {
                    let v = value.strip_suffix("B/s").unwrap_or(value);
                    let n = count(v).map_err(err)?;
                    if n == 0 {
                        return Err(err("a bandwidth of 0 would stop the link; use stall".into()));
                    }
                    imp.bandwidth = Some(n);
                }
                "stall" => {
                    let (d, at) = match value.split_once('@') {
                        Some((d, at)) => (d, count(at).map_err(err)?),
                        None => (value, 0),
                    };
                    imp.stall = Some((duration(d).map_err(err)?, at));
                }
                "reset" => {
                    let v = value.strip_prefix('@').unwrap_or(value);
                    imp.reset_after = Some(count(v).map_err(err)?);
                }
                "dir" => {
                    imp.direction = match value {
                        "up" => Direction::Up,
                        "down" => Direction::Down,
                        "both" => Direction::Both,
                        _ => return Err(err("expected up, down or both".into())),
                    }
                }
                "seed" => imp.seed = count(value).map_err(err)?,
                _ => return Err(err(format!("unknown impairment; the keys are: {KEYS}"))),
            }
        }
        Ok(imp)
    }

    /// True when the proxy can split or merge the client's writes, so that
    /// the target reads them in other pieces than it would directly.
    pub fn changes_segments(&self) -> bool {
        self.chunk.is_some() || self.bandwidth.is_some() || self.stall.is_some()
    }
}

impl fmt::Display for Impairment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.delay.is_zero() {
            parts.push(format!("delay={}", humantime::format_duration(self.delay)));
        }
        if !self.jitter.is_zero() {
            parts.push(format!(
                "jitter={}",
                humantime::format_duration(self.jitter)
            ));
        }
        if let Some((a, b)) = self.chunk {
            parts.push(format!("chunk={a}..{b}"));
        }
        if let Some(b) = self.bandwidth {
            parts.push(format!("bandwidth={b}"));
        }
        if let Some((d, at)) = self.stall {
            parts.push(format!("stall={}@{at}", humantime::format_duration(d)));
        }
        if let Some(n) = self.reset_after {
            parts.push(format!("reset=@{n}"));
        }
        if self.direction != Direction::Both {
            parts.push(format!(
                "dir={}",
                if self.direction == Direction::Up {
                    "up"
                } else {
                    "down"
                }
            ));
        }
        if self.seed != 0 {
            parts.push(format!("seed={}", self.seed));
        }
        write!(f, "{}", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wifi_like_spec() {
        let i = Impairment::parse("delay=10ms, jitter=5ms,chunk=1..64").unwrap();
        assert_eq!(i.delay, Duration::from_millis(10));
        assert_eq!(i.jitter, Duration::from_millis(5));
        assert_eq!(i.chunk, Some((1, 64)));
        assert!(i.changes_segments());
        assert_eq!(i.to_string(), "delay=10ms,jitter=5ms,chunk=1..64");
    }

    #[test]
    fn every_key() {
        let i =
            Impairment::parse("chunk=16,bandwidth=20kB/s,stall=500ms@1k,reset=@2000,dir=up,seed=7")
                .unwrap();
        assert_eq!(i.chunk, Some((16, 16)));
        assert_eq!(i.bandwidth, Some(20_000));
        assert_eq!(i.stall, Some((Duration::from_millis(500), 1000)));
        assert_eq!(i.reset_after, Some(2000));
        assert_eq!(i.direction, Direction::Up);
        assert_eq!(i.seed, 7);
        assert_eq!(Impairment::parse("").unwrap(), Impairment::default());
        assert!(!Impairment::parse("delay=1ms").unwrap().changes_segments());
    }

    #[test]
    fn errors_name_the_item_and_what_was_expected() {
        let e = Impairment::parse("delay=10ms,chunk=0..5").unwrap_err();
        assert_eq!(e.item, "chunk=0..5");
        assert!(e.message.contains("1 <= MIN <= MAX"), "{e}");
        let e = Impairment::parse("latency=3ms").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("`latency=3ms`: unknown impairment; the keys are: delay="),
            "{e}"
        );
        let e = Impairment::parse("delay=soon").unwrap_err();
        assert!(e.message.contains("expected a duration"), "{e}");
        let e = Impairment::parse("jitter").unwrap_err();
        assert!(e.message.starts_with("expected key=value"), "{e}");
        assert!(Impairment::parse("bandwidth=0").is_err());
        assert!(Impairment::parse("dir=sideways").is_err());
    }
}
