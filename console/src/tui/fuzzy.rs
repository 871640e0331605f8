//! Fuzzy picking for people who type fast: by name, by id, and by pinyin
//! initials ("xh" finds 新华, "xhjd" 新华街道).

use nucleo_matcher::pattern::{AtomKind, CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};
use pinyin::ToPinyin;

/// Pinyin initials of the Chinese characters in `text`, other characters
/// kept as they are (lowercased): "新华A区" → "xha区".
pub fn initials(text: &str) -> String {
    text.chars()
        .map(|c| match c.to_pinyin() {
            Some(p) => p.first_letter().to_owned(),
            None => c.to_lowercase().collect(),
        })
        .collect()
}

/// Full pinyin without tones, syllables run together: "新华" → "xinhua".
pub fn spelled(text: &str) -> String {
    text.chars()
        .map(|c| match c.to_pinyin() {
            Some(p) => p.plain().to_owned(),
            None => c.to_lowercase().collect(),
        })
        .collect()
}

/// What a Chinese name is searched by: itself, its initials, its pinyin.
pub fn searchable(name: &str) -> String {
    format!("{name} {} {}", initials(name), spelled(name))
}

/// One candidate: what to search and what it stands for.
#[derive(Debug, Clone)]
pub struct Candidate<T> {
    /// Text matched against (id, name, initials...).
    pub haystack: String,
    /// The value picked.
    pub value: T,
}

impl<T> Candidate<T> {
    /// A candidate matched by id, name, and the name's pinyin (initials and
    /// full).
    pub fn named(id: &str, name: &str, value: T) -> Self {
        Candidate {
            haystack: format!("{id} {}", searchable(name)),
            value,
        }
    }
}

/// Candidates ranked by how well they match `query` (best first); an empty
/// query keeps them all in order.
pub fn rank<'a, T>(query: &str, candidates: &'a [Candidate<T>]) -> Vec<&'a Candidate<T>> {
    let query = query.trim();
    if query.is_empty() {
        return candidates.iter().collect();
    }
    let mut matcher = Matcher::new(Config::DEFAULT);
    let pattern = Pattern::new(
        query,
        CaseMatching::Ignore,
        Normalization::Smart,
        AtomKind::Fuzzy,
    );
    let mut buffer = Vec::new();
    let mut scored: Vec<(u32, usize)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(index, candidate)| {
            let haystack = Utf32Str::new(&candidate.haystack, &mut buffer);
            pattern
                .score(haystack, &mut matcher)
                .map(|score| (score, index))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored
        .into_iter()
        .map(|(_, index)| &candidates[index])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posts() -> Vec<Candidate<&'static str>> {
        vec![
            Candidate::named("qianjin", "前进街道指挥部", "qianjin"),
            Candidate::named("xinhua", "新华街道指挥部", "xinhua"),
            Candidate::named("xiangyang", "向阳镇指挥部", "xiangyang"),
        ]
    }

    #[test]
    fn pinyin_initials_find_chinese_names() {
        assert_eq!(initials("新华街道"), "xhjd");
        let posts = posts();
        assert_eq!(rank("xh", &posts)[0].value, "xinhua");
        assert_eq!(rank("新华", &posts)[0].value, "xinhua");
        assert_eq!(rank("xyz", &posts)[0].value, "xiangyang");
        assert_eq!(rank("qj", &posts)[0].value, "qianjin");
        assert_eq!(spelled("火灾"), "huozai");
        let fire = vec![Candidate::named("fire", "火灾", "fire")];
        assert_eq!(rank("huo", &fire).len(), 1);
        assert!(rank("kkk", &posts).is_empty());
        assert_eq!(rank("", &posts).len(), 3);
    }
}
