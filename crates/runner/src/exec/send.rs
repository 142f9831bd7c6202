//! `send` and `send_raw`: frames and bytes from the client, malformed on
//! purpose where the scenario says so.

use super::*;

impl Ctx<'_> {
    pub(super) fn payload_bytes(&self, p: &sc::Payload) -> Result<Vec<u8>, Fail> {
        Ok(match p {
            sc::Payload::Empty => Vec::new(),
            sc::Payload::Text(t) => sc::substitute(t, &self.vars)
                .map_err(Fail::msg)?
                .into_bytes(),
            sc::Payload::Bytes(b) => b.clone(),
            sc::Payload::Fill { byte, len } => vec![*byte; *len],
            sc::Payload::Close { code, reason } => {
                esp_ws_frame::close_payload(Some(*code), reason.as_bytes())
            }
        })
    }

    pub(super) async fn send(&mut self, s: &sc::Send) -> StepResult {
        let (bytes, summary) = self.encode_send(s)?;
        self.write(&s.conn, bytes, &s.write, summary).await
    }

    /// A `send` step's frame as bytes, and the line that describes it.
    pub(super) fn encode_send(&self, s: &sc::Send) -> Result<(Vec<u8>, String), Fail> {
        let payload = self.payload_bytes(&s.payload)?;
        let mask = if s.mask {
            Some(s.mask_key.unwrap_or_else(|| rand::rng().random()))
        } else {
            None
        };
        let spec = FrameSpec {
            fin: s.fin,
            rsv: s.rsv,
            opcode: s.opcode,
            mask,
            payload,
            declared_len: s.length,
            length_encoding: s.length_encoding,
        };
        let bytes = esp_ws_frame::encode(&spec)
            .map_err(|e| Fail::msg(format!("cannot encode the frame: {e}")))?;
        let summary = match s.length {
            // A frame whose length field lies cannot be decoded back.
            Some(l) => format!(
                "{} {} length field {l} with {} payload bytes",
                spec.opcode.name(),
                if spec.fin { "fin" } else { "nofin" },
                spec.payload.len()
            ),
            None => match esp_ws_frame::decode_all(&bytes, u64::MAX) {
                Ok((frames, rest)) if frames.len() == 1 && rest.is_empty() => frames[0].summary(),
                _ => format!("{} bytes", bytes.len()),
            },
        };
        Ok((bytes, summary))
    }

    pub(super) async fn send_raw(&mut self, s: &sc::SendRaw) -> StepResult {
        let bytes = self.payload_bytes(&s.payload)?;
        let summary = format!("raw {} bytes \"{}\"", bytes.len(), esc(&bytes));
        self.write(&s.conn, bytes, &s.write, summary).await
    }
}
