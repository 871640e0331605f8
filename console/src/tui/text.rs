//! Display-width-aware text: CJK characters take two cells, combining marks
//! none. Columns are sized and cut by width, never by `chars().count()`,
//! and cut on whole glyphs with room left for `…`.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Cells `text` takes in a terminal.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` cut to at most `max` cells, ending in `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `text` cut or padded with spaces to exactly `cells` cells.
pub fn fit(text: &str, cells: usize) -> String {
    let mut out = truncate(text, cells);
    let pad = cells.saturating_sub(width(&out));
    out.extend(std::iter::repeat_n(' ', pad));
    out
}

/// Pasted or restored text for a one-line field, or a name from the
/// network for one cell: line breaks and tabs become single spaces, other
/// control characters and bidi controls are dropped, so nothing pasted can
/// act as a key and nothing shown can reorder the line around it.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\n' | '\r' | '\t') {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
        } else if !crate::cli::output::is_hazard(c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_text_becomes_one_line_without_controls() {
        assert_eq!(one_line("新华路12号\r\n3单元\t502"), "新华路12号 3单元 502");
        assert_eq!(one_line("a\x1b[2Jb\x07"), "a[2Jb");
        assert_eq!(one_line("abc\u{202e}def\u{2066}"), "abcdef");
        assert_eq!(one_line("\n\nx\n"), "x ");
    }

    #[test]
    fn chinese_is_two_cells_and_cut_on_whole_glyphs() {
        assert_eq!(width("新华街道"), 8);
        assert_eq!(truncate("新华街道指挥部", 7), "新华街…");
        // 7 cells: three glyphs (6) + … (1). Never half a glyph.
        assert_eq!(width(&truncate("新华街道指挥部", 8)), 7);
        assert_eq!(fit("ab新", 6), "ab新  ");
        assert_eq!(fit("新华街道", 5), "新华…");
        assert_eq!(width(&fit("新华街道", 5)), 5);
    }

    #[test]
    fn mixed_text_emoji_and_combining_marks() {
        assert_eq!(width("A区🔥"), 5);
        assert_eq!(truncate("e\u{301}e\u{301}e\u{301}", 2), "e\u{301}…");
        assert_eq!(truncate("短", 2), "短");
        assert_eq!(truncate("abc", 0), "");
    }
}
