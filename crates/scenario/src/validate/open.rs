//! `open`: the request (fields or raw bytes) and the expected response.

use super::*;

pub(super) fn open(ctx: &mut Ctx<'_>, b: &[PathSegment], r: RawOpen) -> Open {
    let conn = r.conn.unwrap_or_else(|| DEFAULT_CONN.to_owned());
    if conn.is_empty() {
        ctx.error(&at(b, "conn"), "connection name must not be empty");
    }
    let raw_given = r.raw.is_some() || r.raw_hex.is_some();
    ctx.exclusive(
        b,
        &[("raw", r.raw.is_some()), ("raw_hex", r.raw_hex.is_some())],
        "",
    );
    if raw_given {
        let raw_field = if r.raw.is_some() { "raw" } else { "raw_hex" };
        let http_fields = [
            ("path", r.path.is_some()),
            ("method", r.method.is_some()),
            ("http_version", r.http_version.is_some()),
            ("key", r.key.is_some()),
            ("headers", r.headers.is_some()),
            ("subprotocols", r.subprotocols.is_some()),
        ];
        for (field, given) in http_fields {
            if given {
                ctx.error(
                    &at(b, field),
                    format!(
                        "`{field}` cannot be combined with `{raw_field}` \
                         (a raw request is sent exactly as given)"
                    ),
                );
            }
        }
    }
    let request = if let Some(raw) = r.raw {
        Request::Raw(raw.into_bytes())
    } else if let Some(hex) = r.raw_hex {
        Request::Raw(ctx.hex(&at(b, "raw_hex"), &hex))
    } else {
        let path = r.path.unwrap_or_else(|| "/ws".to_owned());
        ctx.template(&at(b, "path"), &path);
        let headers_path = at(b, "headers");
        let headers = r.headers.unwrap_or_default();
        let mut seen: HashMap<String, String> = HashMap::new();
        for (name, value) in &headers {
            let p = at(&headers_path, name);
            ctx.header_name(&p, name);
            // Later entries would silently act on what an earlier one did,
            // which is never what a duplicate was meant to do.
            ctx.unique_header(&mut seen, &p, name);
            if let Some(value) = value {
                ctx.template(&p, value);
            }
        }
        Request::Http(HttpRequest {
            path,
            method: r.method.unwrap_or_else(|| "GET".to_owned()),
            http_version: r.http_version.unwrap_or_else(|| "HTTP/1.1".to_owned()),
            key: r.key,
            headers,
            subprotocols: r.subprotocols.unwrap_or_default(),
        })
    };
    let write = ctx.write(b, r.write);
    let response = ctx.response(&at(b, "response"), r.response, true);
    let timeout = ctx.timeout(b, r.timeout_ms);
    // Defined after the step's own checks: an `open` names a new connection
    // for the steps that follow it.
    ctx.conns.insert(conn.clone());
    Open {
        conn,
        request,
        write,
        response,
        timeout,
    }
}
