//! A single-line editor: insert, delete, move by character or word. The
//! cursor's screen column is measured in display width, so it lands right
//! after Chinese text.

use crate::tui::text::width;

/// Text being typed and where the cursor is (a char index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    text: String,
    cursor: usize,
}

impl Line {
    /// A line holding `text`, cursor at the end.
    pub fn with(text: &str) -> Self {
        Line {
            text: text.to_owned(),
            cursor: text.chars().count(),
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Replaces the text, cursor at the end.
    pub fn set(&mut self, text: &str) {
        *self = Line::with(text);
    }

    fn byte(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Types a character at the cursor.
    pub fn insert(&mut self, c: char) {
        let at = self.byte(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor == 0 {
            return;
        }
        self.cursor -= 1;
        let at = self.byte(self.cursor);
        self.text.remove(at);
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.text.chars().count() {
            let at = self.byte(self.cursor);
            self.text.remove(at);
        }
    }

    /// Deletes the word before the cursor (Ctrl-W).
    pub fn delete_word(&mut self) {
        let chars: Vec<char> = self.text.chars().collect();
        let mut start = self.cursor;
        while start > 0 && chars[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && chars[start - 1] != ' ' {
            start -= 1;
        }
        let (from, to) = (self.byte(start), self.byte(self.cursor));
        self.text.replace_range(from..to, "");
        self.cursor = start;
    }

    /// Clears everything (Ctrl-U).
    pub fn clear(&mut self) {
        *self = Line::default();
    }

    /// Moves the cursor one character left.
    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    /// Moves the cursor one character right.
    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.text.chars().count());
    }

    /// To the start.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// To the end.
    pub fn end(&mut self) {
        self.cursor = self.text.chars().count();
    }

    /// The cursor's column, in cells from the start of the text.
    pub fn cursor_column(&self) -> usize {
        width(&self.text[..self.byte(self.cursor)])
    }

    /// What fits in `cells` with the cursor in view, and the cursor's column
    /// in it: the whole text when it fits, else `…` and the text just before
    /// the cursor (a long summary shows its end while it is typed).
    pub fn window(&self, cells: usize) -> (String, usize) {
        if width(&self.text) < cells || self.cursor_column() + 1 < cells {
            return (
                crate::tui::text::truncate(&self.text, cells),
                self.cursor_column(),
            );
        }
        let before: Vec<char> = self.text[..self.byte(self.cursor)].chars().collect();
        let mut shown = String::new();
        let mut used = 1; // the `…`
        for c in before.iter().rev() {
            let w = width(&c.to_string());
            if used + w + 1 > cells {
                break;
            }
            shown.insert(0, *c);
            used += w;
        }
        (format!("…{shown}"), used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_lands_after_chinese_text() {
        let mut line = Line::default();
        for c in "新华a".chars() {
            line.insert(c);
        }
        assert_eq!(line.cursor_column(), 5);
        line.left();
        line.left();
        assert_eq!(line.cursor_column(), 2);
        line.insert('路');
        assert_eq!(line.text(), "新路华a");
        line.backspace();
        line.backspace();
        assert_eq!(line.text(), "华a");
        assert_eq!(line.cursor_column(), 0);
        line.end();
        line.insert(' ');
        line.insert('x');
        line.delete_word();
        assert_eq!(line.text(), "华a ");
    }
}
