//! A client that is not generated code: any method by its path, requests
//! built from proto3 JSON (or raw bytes) with the descriptor set, replies
//! rendered back to JSON. The visibility matrix and the hostile-input tests
//! use it to reach every RPC the descriptors list.

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Bytes in, bytes out: the codec of a client that builds its own messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; bytes::Buf::remaining(src)];
        bytes::Buf::copy_to_slice(src, &mut out);
        Ok(Some(out))
    }
}

/// The dutyroom descriptors.
pub fn pool() -> DescriptorPool {
    DescriptorPool::decode(dutyroom_proto::FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

/// Every method of every `dutyroom.v1` service, as `Service/Method`.
pub fn methods(pool: &DescriptorPool) -> Vec<MethodDescriptor> {
    pool.services()
        .filter(|s| s.package_name() == "dutyroom.v1")
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect()
}

/// `Service/Method` without the package.
pub fn short_name(method: &MethodDescriptor) -> String {
    format!("{}/{}", method.parent_service().name(), method.name())
}

/// A plaintext channel to `addr` (`127.0.0.1:port`).
pub async fn channel(addr: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects")
}

fn request<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    request
}

fn path(method: &MethodDescriptor) -> PathAndQuery {
    PathAndQuery::try_from(format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ))
    .expect("path")
}

/// The request `json` for `method`, encoded.
pub fn encode(method: &MethodDescriptor, json: &str) -> Vec<u8> {
    let mut de = serde_json::Deserializer::from_str(json);
    DynamicMessage::deserialize(method.input(), &mut de)
        .unwrap_or_else(|e| panic!("{}: bad template {json}: {e}", short_name(method)))
        .encode_to_vec()
}

fn render(method: &MethodDescriptor, bytes: &[u8]) -> String {
    let message = DynamicMessage::decode(method.output(), bytes).expect("reply decodes");
    serde_json::to_string(&message).expect("reply renders")
}

/// What one call answered: the replies rendered as JSON, or the status.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Unary reply, or every stream item up to the end of the replay.
    Ok(Vec<String>),
    /// The call failed.
    Err(Code, String),
}

impl Answer {
    /// Everything the caller could read in it.
    pub fn text(&self) -> String {
        match self {
            Answer::Ok(replies) => replies.join("\n"),
            Answer::Err(code, message) => format!("{code:?}: {message}"),
        }
    }
}

/// Calls `method` with the encoded `body`. A server stream is read until
/// its replay ends (a heartbeat with `caughtUp`), then dropped.
pub async fn call(
    channel: &Channel,
    token: Option<&str>,
    method: &MethodDescriptor,
    body: Vec<u8>,
) -> Answer {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("channel ready");
    if method.is_server_streaming() {
        let mut stream = match grpc
            .server_streaming(request(body, token), path(method), RawCodec)
            .await
        {
            Ok(reply) => reply.into_inner(),
            Err(status) => return Answer::Err(status.code(), status.message().to_owned()),
        };
        let mut replies = Vec::new();
        loop {
            match stream.message().await {
                Ok(Some(bytes)) => {
                    let json = render(method, &bytes);
                    let done = json.contains("\"caughtUp\":true");
                    replies.push(json);
                    if done {
                        return Answer::Ok(replies);
                    }
                }
                Ok(None) => return Answer::Ok(replies),
                Err(status) => return Answer::Err(status.code(), status.message().to_owned()),
            }
        }
    }
    match grpc
        .unary(request(body, token), path(method), RawCodec)
        .await
    {
        Ok(reply) => Answer::Ok(vec![render(method, &reply.into_inner())]),
        Err(status) => Answer::Err(status.code(), status.message().to_owned()),
    }
}
