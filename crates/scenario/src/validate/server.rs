//! The server role's steps (`expect_connect`, `expect_request`, `accept`)
//! and what the role changes: which steps a scenario may have, and which
//! connection a step acts on by default.

use super::*;

impl Ctx<'_> {
    /// Reports a step of the other role's kinds.
    pub(super) fn step_in_role(&mut self, step_path: &[PathSegment], kind: &str) {
        let (own, other) = match self.role {
            Role::Client => (CLIENT_STEP_KINDS, SERVER_STEP_KINDS),
            Role::Server => (SERVER_STEP_KINDS, CLIENT_STEP_KINDS),
        };
        if !other.contains(&kind) {
            return;
        }
        let list = own
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let message = match self.role {
            Role::Client => format!(
                "`{kind}` is a step of server-role scenarios (esp-ws listens, the firmware dials it): set \"role\": \"server\" at the top; a client-role scenario has {list} and the shared steps"
            ),
            Role::Server => format!(
                "`{kind}` is a step of client-role scenarios (esp-ws dials the firmware), but this scenario has \"role\": \"server\"; a server-role scenario has {list} and the shared steps"
            ),
        };
        self.error(&at(step_path, kind), message);
    }

    /// Server role: the connection a step acts on, by name or (the default)
    /// the one the latest `expect_connect` named.
    pub(super) fn server_conn(&mut self, base: &[PathSegment], conn: Option<String>) -> String {
        match conn {
            Some(name) => {
                if !self.conns.contains(&name) {
                    self.error(
                        &at(base, "conn"),
                        format!(
                            "connection {name:?} is not named by an earlier `expect_connect` step"
                        ),
                    );
                }
                name
            }
            None => match &self.newest_conn {
                Some(name) => name.clone(),
                None => {
                    self.error(
                        base,
                        "no connection yet: in a server-role scenario an `expect_connect` step comes first (the firmware dials esp-ws)",
                    );
                    "c1".to_owned()
                }
            },
        }
    }
}

pub(super) fn expect_connect(
    ctx: &mut Ctx<'_>,
    b: &[PathSegment],
    r: RawExpectConnect,
) -> ExpectConnect {
    let conn = r.conn.unwrap_or_else(|| format!("c{}", ctx.connects + 1));
    if conn.is_empty() {
        ctx.error(&at(b, "conn"), "connection name must not be empty");
    } else if ctx.conns.contains(&conn) {
        ctx.error(
            &at(b, "conn"),
            format!(
                "connection {conn:?} is already named by an earlier `expect_connect`: each connection gets a name of its own"
            ),
        );
    }
    let after_given = r.after.is_some();
    let after = match r.after {
        None => After::Previous,
        Some(RawAfter::Keyword(k)) => match k.as_str() {
            "previous" => After::Previous,
            "start" => After::Start,
            "disconnect" => After::Disconnect,
            _ => {
                ctx.error(
                    &at(b, "after"),
                    format!(
                        "unknown instant {k:?}: expected \"previous\", \"start\", \"disconnect\" or an earlier step's index"
                    ),
                );
                After::Previous
            }
        },
        Some(RawAfter::Step(i)) => {
            let here = ctx.step_index;
            if i < 0 || i as usize >= here {
                let earlier = if here == 0 {
                    "there is none before it".to_owned()
                } else {
                    format!("0..={}", here - 1)
                };
                ctx.error(
                    &at(b, "after"),
                    format!(
                        "step {i} is not an earlier step: the window counts from a step that ran before this one (step {here}; earlier ones: {earlier})"
                    ),
                );
                After::Previous
            } else {
                After::Step(i as usize)
            }
        }
    };
    let within = r.within_ms.as_ref().and_then(|w| {
        let p = at(b, "within_ms");
        if w.len() != 2 {
            ctx.error(
                &p,
                format!(
                    "must be [min, max] in milliseconds (two numbers), got {} numbers",
                    w.len()
                ),
            );
            return None;
        }
        let mut bounds = [Duration::ZERO; 2];
        for (i, v) in w.iter().enumerate() {
            let mut pi = p.clone();
            pi.push(PathSegment::Index(i));
            bounds[i] = ctx.millis(&pi, *v, 0);
        }
        if bounds[0] > bounds[1] {
            ctx.error(&p, format!("min {} is greater than max {}", w[0], w[1]));
            return None;
        }
        Some((bounds[0], bounds[1]))
    });
    if after_given && r.within_ms.is_none() {
        ctx.error(
            &at(b, "after"),
            "`after` says what `within_ms` counts from; give `within_ms` too",
        );
    }
    ctx.exclusive(
        b,
        &[
            ("within_ms", r.within_ms.is_some()),
            ("timeout_ms", r.timeout_ms.is_some()),
        ],
        " (the window's max is the wait)",
    );
    let timeout = ctx.timeout(b, r.timeout_ms);
    ctx.connects += 1;
    ctx.conns.insert(conn.clone());
    ctx.newest_conn = Some(conn.clone());
    ExpectConnect {
        conn,
        after,
        within,
        timeout,
    }
}

pub(super) fn expect_request(
    ctx: &mut Ctx<'_>,
    b: &[PathSegment],
    r: RawExpectRequest,
) -> ExpectRequest {
    let conn = ctx.conn(b, r.conn);
    let method = r.method.map(|m| ctx.matcher(&at(b, "method"), m));
    let path = r.path.map(|m| ctx.matcher(&at(b, "path"), m));
    let mut headers = IndexMap::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let headers_path = at(b, "headers");
    for (name, matcher) in r.headers.unwrap_or_default() {
        let p = at(&headers_path, &name);
        ctx.header_name(&p, &name);
        ctx.unique_header(&mut seen, &p, &name);
        let matcher = matcher.map(|m| ctx.matcher(&p, m));
        headers.insert(name, matcher);
    }
    let order = r.order.unwrap_or_default();
    if order == HeaderOrder::Exact && headers.values().any(Option::is_none) {
        ctx.error(
            &at(b, "order"),
            "\"exact\" allows no other header than the listed ones, so a null (absent) header says nothing: leave it out",
        );
    }
    let timeout = ctx.timeout(b, r.timeout_ms);
    ExpectRequest {
        conn,
        method,
        path,
        headers,
        order,
        fresh_key: r.fresh_key.unwrap_or(true),
        timeout,
    }
}

pub(super) fn accept(
    ctx: &mut Ctx<'_>,
    b: &[PathSegment],
    r: RawAccept,
) -> (Accept, Option<String>) {
    let r = match r {
        RawAccept::None => {
            let conn = ctx.conn(b, None);
            let step = Accept {
                conn,
                answer: Answer::None,
                delay: Duration::ZERO,
                write: WriteOpts::default(),
            };
            return (step, None);
        }
        RawAccept::Answer(r) => *r,
    };
    let conn = ctx.conn(b, r.conn);
    let status = match r.status {
        Some(s) => ctx.range(&at(b, "status"), s, 100, 599).unwrap_or(101),
        None => 101,
    } as u16;
    if let Some(reason) = &r.reason
        && reason.contains(['\r', '\n'])
    {
        ctx.error(&at(b, "reason"), "must not contain a line break");
    }
    let headers_path = at(b, "headers");
    let headers = r.headers.unwrap_or_default();
    let mut seen: HashMap<String, String> = HashMap::new();
    for (name, value) in &headers {
        let p = at(&headers_path, name);
        ctx.header_name(&p, name);
        ctx.unique_header(&mut seen, &p, name);
        if let Some(value) = value {
            ctx.template(&p, value);
        }
    }
    if let Some(body) = &r.body {
        if status == 101 {
            ctx.error(
                &at(b, "body"),
                "a 101 answer has no body: what follows it is WebSocket data (use `frames`, or a `send_raw` step)",
            );
        }
        ctx.template(&at(b, "body"), body);
    }
    let mut frames = Vec::new();
    for (i, f) in r.frames.unwrap_or_default().into_iter().enumerate() {
        let mut p = at(b, "frames");
        p.push(PathSegment::Index(i));
        if f.conn.is_some() {
            ctx.error(
                &at(&p, "conn"),
                "a frame of `accept` goes on the accepted connection: leave `conn` out",
            );
        }
        if f.write.is_some() {
            ctx.error(
                &at(&p, "write"),
                "the frames go in the answer's write: use the `write` of `accept`",
            );
        }
        let f = RawSend {
            conn: Some(conn.clone()),
            ..f
        };
        frames.push(send(ctx, &p, f));
    }
    if status != 101 && !frames.is_empty() {
        ctx.error(
            &at(b, "frames"),
            format!("frames follow a 101 answer only, but the status is {status}"),
        );
    }
    let delay = r
        .delay_ms
        .map(|ms| ctx.millis(&at(b, "delay_ms"), ms, 0))
        .unwrap_or_default();
    let write = ctx.write(b, r.write);
    let step = Accept {
        conn,
        answer: Answer::Http(HttpAnswer {
            status,
            reason: r.reason,
            headers,
            body: r.body.unwrap_or_default(),
            frames,
        }),
        delay,
        write,
    };
    (step, r.comment)
}
