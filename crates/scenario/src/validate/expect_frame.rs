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
    // Server role: the frames come from a client, which must mask each one
    // with a new key (RFC 6455 §5.3).
    let masked = match ctx.role {
        Role::Server => Some(r.masked.unwrap_or(true)),
        Role::Client => r.masked,
    };
    if let Some(fresh) = r.fresh_mask {
        if ctx.role == Role::Client {
            ctx.error(
                &at(b, "fresh_mask"),
                "`fresh_mask` checks a client's masking keys: it is for server-role scenarios (a server does not mask)",
            );
        } else if fresh && masked == Some(false) {
            ctx.error(
                &at(b, "fresh_mask"),
                "`fresh_mask` needs a masked frame, but `masked` is false",
            );
        }
    }
    let fresh_mask =
        ctx.role == Role::Server && masked == Some(true) && r.fresh_mask.unwrap_or(true);
    let timeout = ctx.timeout(b, r.timeout_ms);
    define(ctx, defined);
    ExpectFrame {
        conn,
        opcode,
        fin: r.fin,
        rsv,
        payload,
        len,
        masked,
        fresh_mask,
        timeout,
    }
}
