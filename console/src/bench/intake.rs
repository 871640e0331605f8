//! `duty bench intake`: durable CreateIncident calls with the payloads a
//! call-taker types (Chinese address and summary, a phone, a tag).

use dutyroom_proto::v1 as pb;

use crate::bench::{LoadOptions, Prepared, Report, load};

/// A realistic intake: Chinese text of the length officers type.
pub fn request(client: usize, n: u64) -> pb::CreateIncidentRequest {
    pb::CreateIncidentRequest {
        request_id: String::new(),
        intake: Some(pb::IncidentIntake {
            source: pb::SourceChannel::Police110 as i32,
            caller_name: "张先生".into(),
            caller_phone: "13912345678".into(),
            address: format!("城关区新华路{}号幸福小区{}栋", n % 300 + 1, client % 40 + 1),
            place_id: String::new(),
            category: "fire".into(),
            severity: pb::Severity::Iii as i32,
            summary: format!(
                "群众来电反映居民楼{}层楼道内有烟雾，疑似电动车充电起火，请求处置（第{n}次）",
                n % 30 + 1
            ),
            tags: vec!["电动车".into()],
            drill: false,
        }),
        dispatch: Vec::new(),
    }
}

/// Every client creates incidents back to back (or at the paced rate).
pub async fn run(prepared: &Prepared, options: &LoadOptions) -> anyhow::Result<Report> {
    let mut clients = Vec::new();
    for _ in 0..options.clients {
        clients.push(prepared.client().await?.incidents());
    }
    let outcome = load::run(clients, options, |mut incidents, index, n| async move {
        incidents.create_incident(request(index, n)).await.map(drop)
    })
    .await?;
    let mut report = outcome.report("intake", options.clients);
    report.target = prepared.where_().to_owned();
    report.rss_mib = prepared.rss_mib();
    Ok(report)
}
