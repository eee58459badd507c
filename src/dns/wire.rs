//! A [`Reply`] to bytes within the requester's size, signed over exactly the bytes sent.
//!
//! Unsigned: records that do not fit are left out and TC is set (what hickory's encoder does).
//! Signed: room is kept for the TSIG record; when the answer still does not fit, the response is
//! only the question with TC set and NOERROR, signed (RFC 8945 §5.3: "If addition of the TSIG
//! record will cause the message to be truncated, the server MUST alter the response so that a
//! TSIG can be included. This response contains only the question and a TSIG record, has the TC
//! bit set, and has an RCODE of 0 (NOERROR)."); the client then asks again over TCP. The OPT
//! record stays when the request had one (RFC 6891 §6.1.1: a responder MUST include OPT in its
//! answer to a request with OPT).

use hickory_proto::op::{Edns, Message, Metadata, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::server::Request;
use hickory_server::zone_handler::MessageResponseBuilder;

use super::tsig::ResponseSigner;

/// An answer before encoding.
pub struct Reply {
    pub meta: Metadata,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    pub edns: Option<Edns>,
    pub signer: Option<ResponseSigner>,
}

impl Reply {
    pub fn new(meta: Metadata, edns: Option<Edns>, signer: Option<ResponseSigner>) -> Reply {
        Reply {
            meta,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            edns,
            signer,
        }
    }
}

/// Encode `reply` to `request` in at most `max_size` bytes.
pub fn encode(request: &Request, reply: Reply, max_size: u16) -> Vec<u8> {
    let id = reply.meta.id;
    let op = reply.meta.op_code;
    match try_encode(request, reply, max_size) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::debug!(error = %e, "cannot encode the response");
            Message::error_msg(id, op, ResponseCode::ServFail)
                .to_vec()
                .unwrap_or_default()
        }
    }
}

fn try_encode(
    request: &Request,
    reply: Reply,
    max_size: u16,
) -> Result<Vec<u8>, hickory_proto::ProtoError> {
    let Reply {
        meta,
        answers,
        authorities,
        additionals,
        edns,
        signer,
    } = reply;
    let Some(signer) = signer else {
        return emit(
            request,
            &reply_parts(meta, &answers, &authorities, &additionals, edns.as_ref()),
            max_size,
        );
    };
    // Room for the TSIG record: its size does not depend on the MAC's value.
    let tsig_len = encoded_len(&signer.record(&[])?)?;
    let room = max_size.saturating_sub(tsig_len as u16).max(12);
    let parts = reply_parts(meta, &answers, &authorities, &additionals, edns.as_ref());
    let mut bytes = emit(request, &parts, room)?;
    if truncated(&bytes) {
        // Only the question (and OPT), TC, NOERROR: signed so the client trusts the TC.
        let mut m = meta;
        m.truncation = true;
        m.response_code = ResponseCode::NoError;
        bytes = emit(request, &reply_parts(m, &[], &[], &[], edns.as_ref()), room)?;
    }
    append_tsig(&mut bytes, &signer)?;
    Ok(bytes)
}

/// Header and sections to encode.
struct Parts<'a> {
    meta: hickory_proto::op::Metadata,
    answers: &'a [Record],
    authorities: &'a [Record],
    additionals: &'a [Record],
    edns: Option<&'a hickory_proto::op::Edns>,
}

fn reply_parts<'a>(
    meta: hickory_proto::op::Metadata,
    answers: &'a [Record],
    authorities: &'a [Record],
    additionals: &'a [Record],
    edns: Option<&'a hickory_proto::op::Edns>,
) -> Parts<'a> {
    Parts {
        meta,
        answers,
        authorities,
        additionals,
        edns,
    }
}

fn emit(
    request: &Request,
    p: &Parts<'_>,
    max_size: u16,
) -> Result<Vec<u8>, hickory_proto::ProtoError> {
    let mut buf = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut buf);
    encoder.set_max_size(max_size);
    MessageResponseBuilder::new(&request.queries, p.edns)
        .build(
            p.meta,
            p.answers.iter(),
            p.authorities.iter(),
            std::iter::empty(),
            p.additionals.iter(),
        )
        .destructive_emit(&mut encoder)?;
    Ok(buf)
}

fn truncated(message: &[u8]) -> bool {
    message.len() > 2 && message[2] & 0x02 != 0
}

fn encoded_len(
    record: &Record<hickory_proto::rr::rdata::tsig::TSIG>,
) -> Result<usize, hickory_proto::ProtoError> {
    let mut buf = Vec::with_capacity(128);
    let mut encoder = BinEncoder::new(&mut buf);
    record.emit(&mut encoder)?;
    Ok(buf.len())
}

/// Sign `message` (as it is: the id is the request's, ARCOUNT without the TSIG), then append the
/// TSIG record (its own encoder: the key name is never compressed) and count it.
fn append_tsig(
    message: &mut Vec<u8>,
    signer: &ResponseSigner,
) -> Result<(), hickory_proto::ProtoError> {
    let record = signer.record(message)?;
    let mut rr = Vec::with_capacity(128);
    let mut encoder = BinEncoder::new(&mut rr);
    record.emit(&mut encoder)?;
    if message.len() < 12 {
        return Err(hickory_proto::ProtoError::from(
            "response shorter than a header",
        ));
    }
    let arcount = u16::from_be_bytes([message[10], message[11]]).wrapping_add(1);
    message[10..12].copy_from_slice(&arcount.to_be_bytes());
    message.extend_from_slice(&rr);
    Ok(())
}
