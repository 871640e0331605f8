//! Paging: the one way any list is read from the store. A list is the keys
//! under one prefix, walked in key order (or newest first) from just after a
//! [`PageCursor`]; [`Store::walk`] hands each value to the list's query, which
//! keeps, skips or stops, until a [`Page`] is full. Callers see decoded items
//! and an opaque cursor, never a key.

use super::{Store, TreeId, storage};
use crate::error::Result;

/// A place in a list: just after the last item a page returned. Opaque to
/// callers; clients carry it as a page token ([`PageCursor::token`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor(Vec<u8>);

impl PageCursor {
    /// The cursor at `key` (a key of the list's keyspace, without its
    /// keyspace byte).
    pub(super) fn at(key: Vec<u8>) -> PageCursor {
        PageCursor(key)
    }

    /// The key this cursor stands at.
    pub(super) fn key(&self) -> &[u8] {
        &self.0
    }

    /// The cursor as a page token for clients (lower-case hex).
    pub fn token(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads a page token written by [`PageCursor::token`]; `None` when it is
    /// not one.
    pub fn from_token(token: &str) -> Option<PageCursor> {
        if !token.len().is_multiple_of(2) {
            return None;
        }
        (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()
            .map(PageCursor)
    }
}

/// Which part of a list to read: where to start, which way, how many items
/// to return and how many entries to look at to find them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    after: Option<PageCursor>,
    limit: usize,
    look_at_most: usize,
    newest_first: bool,
}

impl Page {
    /// The whole list.
    pub fn all() -> Page {
        Page::first(usize::MAX)
    }

    /// At most `limit` items from the start of the list.
    pub fn first(limit: usize) -> Page {
        Page {
            after: None,
            limit,
            look_at_most: usize::MAX,
            newest_first: false,
        }
    }

    /// Starts just after `cursor` (from the start when `None`).
    pub fn after(self, cursor: Option<PageCursor>) -> Page {
        Page {
            after: cursor,
            ..self
        }
    }

    /// Starts just after `cursor` unless the page already has a place.
    pub(super) fn or_after(self, cursor: PageCursor) -> Page {
        Page {
            after: Some(self.after.unwrap_or(cursor)),
            ..self
        }
    }

    /// Where the page starts, if not at the beginning.
    pub(super) fn place(&self) -> Option<&PageCursor> {
        self.after.as_ref()
    }

    /// Walks the list backwards: the largest key (the newest id) first.
    pub fn newest_first(self) -> Page {
        Page {
            newest_first: true,
            ..self
        }
    }

    /// Looks at no more than `entries` entries, kept or not: a bound on what
    /// one call may cost.
    pub fn looking_at_most(self, entries: usize) -> Page {
        Page {
            look_at_most: entries,
            ..self
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    /// The items kept, in the list's order.
    pub items: Vec<T>,
    /// Where the next page starts, when this one filled up (there may be
    /// nothing after it).
    pub next: Option<PageCursor>,
}

/// What a list query does with one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visit<T> {
    /// Put it on the page.
    Keep(T),
    /// Leave it out and go on.
    Skip,
    /// Leave it out and end the page here (no cursor).
    Stop,
}

impl<T> Visit<T> {
    /// Keeps `item` when `keep`, else skips it.
    pub fn keep_if(keep: bool, item: T) -> Visit<T> {
        if keep { Visit::Keep(item) } else { Visit::Skip }
    }
}

type Entries<'a> = Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + 'a>;

impl Store {
    /// Walks the entries of `tree` under `prefix` as `page` says, handing
    /// each key (without its keyspace byte) and value to `visit`, until the
    /// page holds its limit, `visit` stops, the prefix ends or the page has
    /// looked at as many entries as it may.
    pub(super) fn walk<T>(
        &self,
        tree: TreeId,
        prefix: &[u8],
        page: &Page,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<Visit<T>>,
    ) -> Result<Paged<T>> {
        let mut paged = Paged {
            items: Vec::new(),
            next: None,
        };
        if page.limit == 0 {
            return Ok(paged);
        }
        self.settled()?;
        let prefix = tree.key(prefix);
        let entries: Entries<'_> = match (&page.after, page.newest_first) {
            (None, false) => Box::new(self.tree.range(prefix.clone()..)),
            (Some(after), false) => {
                // Strictly after: the smallest key greater than `after`.
                let mut start = tree.key(after.key());
                start.push(0);
                Box::new(self.tree.range(start..))
            }
            (None, true) => Box::new(self.tree.scan_prefix(&prefix).rev()),
            (Some(after), true) => {
                let end = tree.key(after.key());
                if end <= prefix {
                    Box::new(std::iter::empty())
                } else {
                    Box::new(self.tree.range(prefix.clone()..end).rev())
                }
            }
        };
        for (looked, entry) in entries.enumerate() {
            if looked >= page.look_at_most {
                break;
            }
            let (key, value) = entry.map_err(storage)?;
            if !key.starts_with(&prefix) {
                break;
            }
            match visit(&key[1..], &value)? {
                Visit::Keep(item) => {
                    paged.items.push(item);
                    if paged.items.len() >= page.limit {
                        paged.next = Some(PageCursor::at(key[1..].to_vec()));
                        break;
                    }
                }
                Visit::Skip => {}
                Visit::Stop => break,
            }
        }
        Ok(paged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WriteSet;

    fn store_with(keys: &[&[u8]]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        let mut writes = WriteSet::default();
        for key in keys {
            writes.put(TreeId::Index, key.to_vec(), key.to_vec());
        }
        store.commit(&writes).expect("commit");
        (dir, store)
    }

    fn keep_all(_: &[u8], value: &[u8]) -> Result<Visit<Vec<u8>>> {
        Ok(Visit::Keep(value.to_vec()))
    }

    #[test]
    fn a_page_continues_strictly_after_its_cursor_and_stays_in_its_prefix() {
        let (_dir, store) = store_with(&[b"a1", b"a2", b"a3", b"a4", b"b1"]);
        let first = store
            .walk(TreeId::Index, b"a", &Page::first(2), keep_all)
            .expect("walk");
        assert_eq!(first.items, vec![b"a1".to_vec(), b"a2".to_vec()]);
        let next = first.next.expect("a full page has a cursor");
        let token = next.token();
        assert_eq!(PageCursor::from_token(&token), Some(next.clone()));
        let second = store
            .walk(
                TreeId::Index,
                b"a",
                &Page::first(2).after(Some(next)),
                keep_all,
            )
            .expect("walk");
        assert_eq!(second.items, vec![b"a3".to_vec(), b"a4".to_vec()]);
        let rest = store
            .walk(
                TreeId::Index,
                b"a",
                &Page::first(2).after(second.next),
                keep_all,
            )
            .expect("walk");
        assert!(rest.items.is_empty() && rest.next.is_none());
    }

    #[test]
    fn newest_first_walks_back_and_stops_where_told() {
        let (_dir, store) = store_with(&[b"a1", b"a2", b"a3", b"a4", b"b1"]);
        let back = store
            .walk(
                TreeId::Index,
                b"a",
                &Page::all().newest_first(),
                |_, value| {
                    Ok(match value {
                        b"a2" => Visit::Stop,
                        b"a3" => Visit::Skip,
                        other => Visit::Keep(other.to_vec()),
                    })
                },
            )
            .expect("walk");
        assert_eq!(back.items, vec![b"a4".to_vec()]);
        assert!(back.next.is_none());
        let bounded = store
            .walk(
                TreeId::Index,
                b"a",
                &Page::all().newest_first().looking_at_most(3),
                keep_all,
            )
            .expect("walk");
        assert_eq!(bounded.items.len(), 3);
        let before = store
            .walk(
                TreeId::Index,
                b"a",
                &Page::all()
                    .newest_first()
                    .after(Some(PageCursor::at(b"a3".to_vec()))),
                keep_all,
            )
            .expect("walk");
        assert_eq!(before.items, vec![b"a2".to_vec(), b"a1".to_vec()]);
    }

    #[test]
    fn only_hex_pairs_are_page_tokens() {
        for bad in ["0", "zz", "0g", "é0"] {
            assert_eq!(PageCursor::from_token(bad), None, "{bad:?}");
        }
        assert_eq!(
            PageCursor::from_token("00ff").map(|c| c.key().to_vec()),
            Some(vec![0, 255])
        );
    }
}
