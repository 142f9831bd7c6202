//! `send`: a frame, with every field that can make it malformed on
//! purpose, checked for consistency.

use super::*;

pub(super) fn send(ctx: &mut Ctx<'_>, b: &[PathSegment], r: RawSend) -> Send {
    let conn = ctx.conn(b, r.conn);
    let opcode = match r.opcode {
        Some(op) => ctx.opcode(&at(b, "opcode"), op),
        None => Some(Opcode::TEXT),
    };
    ctx.exclusive(
        b,
        &[
            ("text", r.text.is_some()),
            ("hex", r.hex.is_some()),
            ("fill", r.fill.is_some()),
            ("code", r.code.is_some()),
        ],
        " (a frame has one payload)",
    );
    if r.reason.is_some() && r.code.is_none() {
        ctx.error(
            &at(b, "reason"),
            "`reason` requires `code` (a close reason follows the status code)",
        );
    }
    if let Some(op) = opcode.filter(|&op| op != Opcode::CLOSE) {
        for field in ["code", "reason"] {
            let given = if field == "code" {
                r.code.is_some()
            } else {
                r.reason.is_some()
            };
            if given {
                ctx.error(
                    &at(b, field),
                    format!(
                        "`{field}` is only for close frames (opcode close), but the opcode is {}",
                        op.spelling()
                    ),
                );
            }
        }
    }
    let payload = if let Some(text) = r.text {
        ctx.template(&at(b, "text"), &text);
        Payload::Text(text)
    } else if let Some(hex) = r.hex {
        Payload::Bytes(ctx.hex(&at(b, "hex"), &hex))
    } else if let Some(fill) = r.fill {
        let fill_path = at(b, "fill");
        let byte_path = at(&fill_path, "byte");
        let byte = match fill.byte {
            RawFillByte::Number(n) => ctx.range(&byte_path, n, 0, 255).unwrap_or(0) as u8,
            RawFillByte::Char(s) => {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii() => c as u8,
                    _ => {
                        ctx.error(
                            &byte_path,
                            format!("must be a number 0..=255 or one ASCII character, got {s:?}"),
                        );
                        0
                    }
                }
            }
        };
        if fill.len > MAX_FILL_LEN {
            ctx.error(
                &at(&fill_path, "len"),
                format!("must be in 0..={MAX_FILL_LEN}, got {}", fill.len),
            );
        }
        Payload::Fill {
            byte,
            len: usize::try_from(fill.len.min(MAX_FILL_LEN)).unwrap_or(0),
        }
    } else if let Some(code) = r.code {
        let code = ctx.range(&at(b, "code"), code, 0, 65_535).unwrap_or(0) as u16;
        Payload::Close {
            code,
            reason: r.reason.unwrap_or_default(),
        }
    } else {
        Payload::Empty
    };
    let rsv = ctx.rsv(b, r.rsv).unwrap_or(0);
    // A client masks every frame, a server none (RFC 6455 §5.1).
    let mask = r.mask.unwrap_or(ctx.role == Role::Client);
    let mask_key = r.mask_key.and_then(|key| {
        let p = at(b, "mask_key");
        if !mask {
            ctx.error(&p, "`mask_key` requires `mask: true`");
            return None;
        }
        let bytes = decode_hex(&key).map_err(|m| ctx.error(&p, m)).ok()?;
        match <[u8; 4]>::try_from(bytes.as_slice()) {
            Ok(key) => Some(key),
            Err(_) => {
                ctx.error(
                    &p,
                    format!(
                        "must be exactly 4 bytes (8 hex digits), got {} bytes",
                        bytes.len()
                    ),
                );
                None
            }
        }
    });
    let length_encoding = r.length_encoding.unwrap_or_default();
    // A declared length the chosen encoding cannot hold cannot be sent at all.
    let limit = match length_encoding {
        RawLengthEncoding::Bits7 => Some(125u64),
        RawLengthEncoding::Bits16 => Some(65_535),
        RawLengthEncoding::Minimal | RawLengthEncoding::Bits64 => None,
    };
    let declared = r.length.or(payload.static_len().map(|l| l as u64));
    let too_long = match (limit, declared) {
        (Some(limit), Some(declared)) if declared > limit => Some((limit, declared)),
        _ => None,
    };
    if let Some((limit, declared)) = too_long {
        let field = if r.length.is_some() {
            "length"
        } else {
            "length_encoding"
        };
        ctx.error(
            &at(b, field),
            format!(
                "length_encoding \"{}\" holds at most {limit}, but the declared length is {declared}",
                length_encoding.as_str()
            ),
        );
    }
    let write = ctx.write(b, r.write);
    Send {
        conn,
        opcode: opcode.unwrap_or(Opcode::TEXT),
        payload,
        fin: r.fin.unwrap_or(true),
        rsv,
        mask,
        mask_key,
        length: r.length,
        length_encoding: length_encoding.into(),
        write,
    }
}
