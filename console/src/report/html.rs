//! The printable report: one self-contained HTML page (inline CSS and SVG;
//! no scripts, no fonts or images fetched) for the leaders' monthly
//! meeting. Every text from the network is escaped; figures are formatted
//! by the same helpers as the CLI's tables.

use std::fmt::Write as _;

use dutyroom_proto::v1 as pb;

use super::{change, daily_sign_for_p90, duration, league, slices, summary};

/// HTML-escapes `text`, dropping control characters and bidi controls
/// (which have no place on a printed page, and could reorder a figure).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if crate::cli::output::is_hazard(c) => {}
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei',sans-serif;\
margin:24px;color:#111;font-size:12px}\
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 6px;border-bottom:1px solid #999}\
p.meta{color:#444;margin:0 0 10px}\
table{border-collapse:collapse;margin:4px 0 8px}\
th,td{border:1px solid #bbb;padding:2px 6px;text-align:right;white-space:nowrap}\
th{background:#eee}td.l,th.l{text-align:left}\
tr.unranked td{color:#777}\
.note{color:#555;font-size:11px}\
svg{display:block;margin:4px 0}\
@page{size:A4 landscape;margin:12mm}\
@media print{body{margin:0}h2{break-after:avoid}table,svg{break-inside:avoid}}";

/// Renders the page from a report sliced by category and the same report
/// sliced by place.
pub fn render(by_category: &pb::Report, by_place: &pb::Report) -> String {
    let report = by_category;
    let period = report.period.clone().unwrap_or_default();
    let previous = report.previous_period.clone().unwrap_or_default();
    let mut page = String::new();
    let drills = match pb::DrillFilter::try_from(report.drills) {
        Ok(pb::DrillFilter::Only) => "【演练】仅统计演练 · drills only",
        Ok(pb::DrillFilter::Include) => "含演练 · drills included",
        _ => "不含演练 · drills excluded",
    };
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <title>考核报告 {label}</title><style>{STYLE}</style></head><body>\
         <h1>应急联动考核报告 · Assessment {label}</h1>\
         <p class=\"meta\">{from} 至 {to}（{zone}），对比上期 {prev}；{drills}</p>",
        label = escape(&period.label),
        from = escape(&period.from),
        to = escape(&period.to),
        zone = escape(&report.time_zone),
        prev = escape(&previous.label),
    );

    page.push_str("<h2>总体 · Summary</h2>");
    let rows = summary(report);
    table(
        &mut page,
        &[
            "指标 measure",
            "本期 this period",
            "上期 previous",
            "变化 change",
        ],
        rows.iter().map(|r| r.to_vec()),
        &[],
    );

    for (title, rows) in [
        ("街道指挥部排名 · Posts", &report.posts),
        ("联动单位排名 · Units", &report.units),
    ] {
        let _ = write!(
            page,
            "<h2>{title}</h2><p class=\"note\">按 {} 排名；少于 {} 单不排名 · ranked by {}, \
             fewer than {} orders not ranked</p>",
            escape(&report.rank_by),
            report.min_sample,
            escape(&report.rank_by),
            report.min_sample
        );
        page.push_str(&value_bars(report, rows));
        let (header, cells) = league(report, rows);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let unranked: Vec<bool> = rows.iter().map(|r| r.rank == 0).collect();
        table(&mut page, &header, cells.into_iter(), &unranked);
        page.push_str(&sparklines(report, rows));
    }

    for (title, report) in [
        ("事件类别 · Categories", by_category),
        ("地点 · Places (each holds the places below it)", by_place),
    ] {
        let _ = write!(page, "<h2>{title}</h2>");
        page.push_str(&count_bars(report));
        let (header, cells) = slices(report);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        table(&mut page, &header, cells.into_iter(), &[]);
    }

    page.push_str(
        "<h2>口径 · Method</h2><p class=\"note\">\
         时间均为记录的事实：签收、到场以岗位上报时间（已按时钟偏差校正）计；按时率以各计时器当时所载时限计，\
         而非现行策略。百分位数取最近秩（nearest rank），按桶上沿报告：10 分钟内精确到秒，2 小时内 10 秒，\
         48 小时内 1 分钟，其后 1 小时；最大值精确。综合分 = 100 × （签收、到场、办结按时率与 1 − 退单率）\
         中有数者的平均。<br>Times are recorded facts; compliance is against the deadline each clock \
         carried. Percentiles are nearest-rank, reported at the top of their bucket (1 s below \
         10 min, 10 s below 2 h, 1 min below 48 h, 1 h beyond), never above the exact maximum. \
         Composite = 100 × the mean of the sign-for, arrival and resolution compliance and \
         (1 − send-back rate), over those present.</p></body></html>\n",
    );
    page
}

fn table(
    page: &mut String,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
    unranked: &[bool],
) {
    page.push_str("<table><tr>");
    for (i, h) in header.iter().enumerate() {
        let class = if i < 4 { " class=\"l\"" } else { "" };
        let _ = write!(page, "<th{class}>{}</th>", escape(h));
    }
    page.push_str("</tr>");
    for (n, row) in rows.enumerate() {
        if unranked.get(n).copied().unwrap_or(false) {
            page.push_str("<tr class=\"unranked\">");
        } else {
            page.push_str("<tr>");
        }
        for (i, cell) in row.iter().enumerate() {
            let class = if i < 4 { " class=\"l\"" } else { "" };
            let _ = write!(page, "<td{class}>{}</td>", escape(cell));
        }
        page.push_str("</tr>");
    }
    page.push_str("</table>");
}

/// Horizontal bars, one per row: `(label, value, text)`.
fn bars(items: &[(String, f64, String)], max: f64) -> String {
    if items.is_empty() || max <= 0.0 {
        return String::new();
    }
    let row_height = 16.0;
    let label_width = 150.0;
    let bar_width = 420.0;
    let height = items.len() as f64 * row_height + 4.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" \
         font-size=\"11\">",
        label_width + bar_width + 90.0
    );
    for (i, (label, value, text)) in items.iter().enumerate() {
        let y = i as f64 * row_height + 2.0;
        let width = (value / max * bar_width).max(0.0);
        let _ = write!(
            svg,
            "<text x=\"{x}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
             <rect x=\"{bx}\" y=\"{y}\" width=\"{width:.1}\" height=\"{h}\" fill=\"#4a78b5\"/>\
             <text x=\"{tx:.1}\" y=\"{ty}\">{text}</text>",
            x = label_width - 6.0,
            ty = y + 11.0,
            label = escape(label),
            bx = label_width,
            h = row_height - 4.0,
            tx = label_width + width + 4.0,
            text = escape(text),
        );
    }
    svg.push_str("</svg>");
    svg
}

fn value_bars(report: &pb::Report, rows: &[pb::AssigneeRow]) -> String {
    let items: Vec<(String, f64, String)> = rows
        .iter()
        .filter(|r| r.has_value)
        .map(|r| {
            (
                r.name.clone(),
                r.value,
                super::value(&report.rank_by, r.value, true),
            )
        })
        .collect();
    let max = if report.rank_by == "composite" {
        100.0
    } else {
        items.iter().map(|i| i.1).fold(0.0, f64::max)
    };
    bars(&items, max)
}

fn count_bars(report: &pb::Report) -> String {
    let items: Vec<(String, f64, String)> = report
        .slices
        .iter()
        .take(20)
        .map(|row| {
            let now = row.totals.clone().unwrap_or_default();
            let before = row.previous.clone().unwrap_or_default();
            (
                row.label.clone(),
                now.created as f64,
                format!("{} ({})", now.created, change(now.created, before.created)),
            )
        })
        .collect();
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max);
    bars(&items, max)
}

/// Each row's daily sign-for p90 as a small line, days without one left
/// as gaps.
fn sparklines(report: &pb::Report, rows: &[pb::AssigneeRow]) -> String {
    let with_data: Vec<(&pb::AssigneeRow, Vec<u64>)> = rows
        .iter()
        .map(|r| (r, daily_sign_for_p90(report, r)))
        .filter(|(_, days)| days.iter().any(|p90| *p90 > 0))
        .collect();
    if with_data.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<p class=\"note\">每日签收 p90 · daily sign-for p90</p><table><tr><th class=\"l\">name</th>\
         <th class=\"l\">trend</th><th>max</th></tr>",
    );
    for (row, daily) in with_data {
        let days = daily.len().max(2);
        let top = daily.iter().copied().max().unwrap_or(1).max(1);
        let (width, height) = (240.0, 22.0);
        let step = width / (days - 1) as f64;
        let mut path = String::new();
        let mut dots = String::new();
        let mut pen_down = false;
        for (i, p90) in daily.iter().enumerate() {
            if *p90 == 0 {
                pen_down = false;
                continue;
            }
            let x = i as f64 * step;
            let y = height - 2.0 - (*p90 as f64 / top as f64) * (height - 4.0);
            let _ = write!(path, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
            // A day alone between gaps is a point a line cannot show.
            let _ = write!(dots, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"1.5\"/>");
            pen_down = true;
        }
        let _ = write!(
            out,
            "<tr><td class=\"l\">{name}</td><td class=\"l\"><svg xmlns=\"http://www.w3.org/2000/svg\" \
             width=\"{width}\" height=\"{height}\"><path d=\"{path}\" fill=\"none\" \
             stroke=\"#b5534a\" stroke-width=\"1.5\"/><g fill=\"#b5534a\">{dots}</g></svg></td>\
             <td>{max}</td></tr>",
            name = escape(&row.name),
            max = duration(top),
        );
    }
    out.push_str("</table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_network_cannot_become_markup() {
        assert_eq!(
            escape("<script>alert('x')</script>&\u{1b}[2J\u{202e}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;[2J"
        );
    }
}
