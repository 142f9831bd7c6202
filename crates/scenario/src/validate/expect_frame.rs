//! `expect_frame`: what a frame from the server must look like.

use super::*;

pub(super) fn expect_frame(ctx: &mut Ctx<'_>, b: &[PathSegment], r: RawExpectFrame) -> ExpectFrame {
    let conn = ctx.conn(b, r.conn);
    let opcode = r.opcode.and_then(|op| ctx.opcode(&at(b, "opcode"), op));
    let rsv = ctx.rsv(b, r.rsv);
    ctx.exclusive(
        b,
        &[
            ("text", r.text.is_some()),
            ("hex", r.hex.is_some()),
            ("regex", r.regex.is_some()),
            ("prefix", r.prefix.is_some()),
        ],
        " (use one payload matcher; `len` combines with any)",
    );
    let mut defined = Vec::new();
    let payload = if let Some(text) = r.text {
        ctx.template(&at(b, "text"), &text);
        Some(PayloadMatcher::Text(text))
    } else if let Some(hex) = r.hex {
        Some(PayloadMatcher::Bytes(ctx.hex(&at(b, "hex"), &hex)))
    } else if let Some(regex) = r.regex {
        defined = ctx.regex(&at(b, "regex"), &regex);
        Some(PayloadMatcher::Regex(regex))
    } else if let Some(prefix) = r.prefix {
        ctx.template(&at(b, "prefix"), &prefix);
        Some(PayloadMatcher::Prefix(prefix))
    } else {
        None
    };
    let len = r.len.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    // An exact payload and a different exact length can never both match.
    let exact_len = match &payload {
        Some(PayloadMatcher::Bytes(bytes)) => Some((bytes.len(), "hex")),
        Some(PayloadMatcher::Text(text)) if !text.contains('$') => Some((text.len(), "text")),
        _ => None,
    };
    let contradiction = match (len, exact_len) {
        (Some(len), Some((actual, field))) if len != actual => Some((len, actual, field)),
        _ => None,
    };
    if let Some((len, actual, field)) = contradiction {
        ctx.error(
            &at(b, "len"),
            format!("`len` {len} contradicts `{field}`, which is {actual} bytes long"),
        );
    }
    let timeout = ctx.timeout(b, r.timeout_ms);
    define(ctx, defined);
    ExpectFrame {
        conn,
        opcode,
        fin: r.fin,
        rsv,
        payload,
        len,
        timeout,
    }
}
