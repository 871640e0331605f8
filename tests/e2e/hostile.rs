//! Hostile input to every RPC the descriptors list: bytes that are not a
//! valid message are INVALID_ARGUMENT without decoder internals, and a
//! 100,000-character value in any string field never comes back as more
//! than about a hundred characters of it in the error.

use prost_reflect::{Kind, MethodDescriptor};
use tonic::Code;

use crate::raw::{self, Answer};
use crate::support::TestDaemon;

/// A protobuf tag for a length-delimited field.
fn tag(number: u32) -> Vec<u8> {
    let mut key = u64::from(number) << 3 | 2;
    let mut out = Vec::new();
    loop {
        let byte = (key & 0x7f) as u8;
        key >>= 7;
        if key == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn malformed(method: &MethodDescriptor) -> Vec<(&'static str, Vec<u8>)> {
    let mut cases = vec![
        (
            "a varint that never ends",
            [&[0x08u8][..], &[0xff; 11]].concat(),
        ),
        ("a truncated field", vec![0x0a, 0x05, b'a']),
    ];
    if let Some(field) = method
        .input()
        .fields()
        .find(|f| f.kind() == Kind::String && !f.is_list())
    {
        cases.push((
            "a string that is not UTF-8",
            [tag(field.number()), vec![2, 0xff, 0xfe]].concat(),
        ));
    }
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_and_huge_strings_get_bounded_honest_errors() {
    let daemon = TestDaemon::start().await;
    daemon.seed().await;
    let channel = raw::channel(&daemon.addr).await;
    let pool = raw::pool();
    let huge = "x".repeat(100_000);
    let mut problems = Vec::new();
    let mut calls = 0;
    for method in raw::methods(&pool) {
        let name = raw::short_name(&method);
        for (what, bytes) in malformed(&method) {
            calls += 1;
            match raw::call(&channel, Some(&daemon.admin), &method, bytes).await {
                Answer::Err(Code::InvalidArgument, message)
                    if !message.contains("Protobuf") && !message.contains("varint") => {}
                other => problems.push(format!("{name} with {what}: {other:?}")),
            }
        }
        for field in method.input().fields() {
            if field.kind() != Kind::String {
                continue;
            }
            let value = if field.is_list() {
                serde_json::json!([huge])
            } else {
                serde_json::json!(huge)
            };
            let json = serde_json::json!({ field.json_name(): value }).to_string();
            calls += 1;
            let answer = raw::call(
                &channel,
                Some(&daemon.admin),
                &method,
                raw::encode(&method, &json),
            )
            .await;
            let text = answer.text();
            let longest_echo = text.split(|c| c != 'x').map(str::len).max().unwrap_or(0);
            if longest_echo > 120 || text.len() > 2000 {
                problems.push(format!(
                    "{name}.{}: {} characters back, {longest_echo} of them the input",
                    field.name(),
                    text.len()
                ));
            }
            if let Answer::Err(Code::Internal | Code::Unknown, message) = &answer {
                problems.push(format!("{name}.{}: {message}", field.name()));
            }
        }
    }
    println!("hostile input: {calls} calls");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    daemon.stop().await;
}
