//! Splits flow text into `key`, `key=value`, `key:value` and `key(value)` tokens, as OVS's
//! `ofputil_parse_key_value` does.
//!
//! Tokens are separated by commas and white space. A value runs to the next separator that is
//! not inside parentheses; `key(value)` takes everything up to the matching `)`. Only ASCII
//! bytes are ever used as cut points, so every slice lies on a character boundary.

use super::TextError;

/// One `key[sep value]` item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub key: &'a str,
    /// `=`, `:` or `(`; `None` for a bare word.
    pub sep: Option<u8>,
    pub value: Option<&'a str>,
    /// The whole token as written, for error messages.
    pub text: &'a str,
}

impl Token<'_> {
    /// The token's text, owned (for errors).
    pub fn text(&self) -> String {
        self.text.to_string()
    }
}

/// An iterator over the tokens of a string; it stops after the first error.
#[derive(Debug)]
pub(super) struct Lexer<'a> {
    s: &'a str,
    pos: usize,
    /// `actions=` takes the rest of the string as its value.
    actions_to_end: bool,
}

/// Byte classes, looked up once per byte: flow text is scanned byte by byte several times.
const SEP: u8 = 1;
/// `=`, `:`, `(` and `)` end a key.
const KEY_END: u8 = 2;
const OPEN: u8 = 4;
const CLOSE: u8 = 8;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    let seps = b", \t\r\n";
    while i < seps.len() {
        t[seps[i] as usize] = SEP;
        i += 1;
    }
    t[b'=' as usize] = KEY_END;
    t[b':' as usize] = KEY_END;
    t[b'(' as usize] = KEY_END | OPEN;
    t[b')' as usize] = KEY_END | CLOSE;
    t
};

#[inline]
fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

fn is_sep(b: u8) -> bool {
    class(b) & SEP != 0
}

/// The first position at or after `pos` whose byte has one of the `classes`.
#[inline]
fn skip_until(b: &[u8], mut pos: usize, classes: u8) -> usize {
    while pos < b.len() && class(b[pos]) & classes == 0 {
        pos += 1;
    }
    pos
}

impl<'a> Lexer<'a> {
    /// Tokens of a match (and its `actions=` tail, taken whole).
    pub fn flow(s: &'a str) -> Self {
        Lexer {
            s,
            pos: 0,
            actions_to_end: true,
        }
    }

    /// Tokens of an action list.
    pub fn actions(s: &'a str) -> Self {
        Lexer {
            s,
            pos: 0,
            actions_to_end: false,
        }
    }

    fn fail(&mut self, e: TextError) -> Option<Result<Token<'a>, TextError>> {
        self.pos = self.s.len();
        Some(Err(e))
    }

    /// The end of the token starting at `start` (the next separator), for error messages.
    fn token_end(&self, start: usize) -> &'a str {
        let b = self.s.as_bytes();
        let mut end = start;
        while end < b.len() && !is_sep(b[end]) {
            end += 1;
        }
        &self.s[start..end]
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<Token<'a>, TextError>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        let b = s.as_bytes();
        while self.pos < b.len() && is_sep(b[self.pos]) {
            self.pos += 1;
        }
        if self.pos >= b.len() {
            return None;
        }
        let start = self.pos;
        self.pos = skip_until(b, self.pos, SEP | KEY_END);
        let key = &s[start..self.pos];
        if self.pos >= b.len() || is_sep(b[self.pos]) {
            return Some(Ok(Token {
                key,
                sep: None,
                value: None,
                text: key,
            }));
        }
        let sep = b[self.pos];
        if sep == b')' {
            let text = self.token_end(start).to_string();
            return self.fail(TextError::Unbalanced(text));
        }
        if key.is_empty() {
            let token = self.token_end(start).to_string();
            return self.fail(TextError::Syntax {
                token,
                expected: "a name before '=', ':' or '('",
            });
        }
        self.pos += 1;
        let vstart = self.pos;
        if sep == b'=' && self.actions_to_end && key == "actions" {
            self.pos = b.len();
            return Some(Ok(Token {
                key,
                sep: Some(sep),
                value: Some(&s[vstart..]),
                text: &s[start..],
            }));
        }
        if sep == b'(' {
            let mut depth = 1usize;
            while self.pos < b.len() {
                match b[self.pos] {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                self.pos += 1;
            }
            if depth != 0 {
                let text = s[start..].to_string();
                return self.fail(TextError::Unbalanced(text));
            }
            let value = &s[vstart..self.pos];
            self.pos += 1;
            if self.pos < b.len() && !is_sep(b[self.pos]) {
                let token = self.token_end(start).to_string();
                return self.fail(TextError::Syntax {
                    token,
                    expected: "',' or a space after ')'",
                });
            }
            return Some(Ok(Token {
                key,
                sep: Some(sep),
                value: Some(value),
                text: &s[start..self.pos],
            }));
        }
        let mut depth = 0usize;
        loop {
            self.pos = skip_until(b, self.pos, SEP | OPEN | CLOSE);
            let Some(&c) = b.get(self.pos) else { break };
            match c {
                b'(' => depth += 1,
                b')' if depth == 0 => {
                    let text = self.token_end(start).to_string();
                    return self.fail(TextError::Unbalanced(text));
                }
                b')' => depth -= 1,
                _ if depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        if depth != 0 {
            let text = s[start..].to_string();
            return self.fail(TextError::Unbalanced(text));
        }
        Some(Ok(Token {
            key,
            sep: Some(sep),
            value: Some(&s[vstart..self.pos]),
            text: &s[start..self.pos],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &str) -> Vec<(String, Option<String>)> {
        Lexer::flow(s)
            .map(|t| t.map(|t| (t.key.to_string(), t.value.map(str::to_string))))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn dump_style_and_add_style() {
        let k = keys("table=0, send_flow_rem priority=1,arp actions=goto_table:40,output:3");
        assert_eq!(k[0], ("table".into(), Some("0".into())));
        assert_eq!(k[1], ("send_flow_rem".into(), None));
        assert_eq!(k[3], ("arp".into(), None));
        assert_eq!(
            k[4],
            ("actions".into(), Some("goto_table:40,output:3".into()))
        );
    }

    #[test]
    fn parentheses_nest() {
        let t: Vec<_> = Lexer::actions("resubmit(,40),write_actions(output:3,resubmit(1,2)) x")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(t[0].value, Some(",40"));
        assert_eq!(t[1].value, Some("output:3,resubmit(1,2)"));
        assert_eq!(t[2].key, "x");
        assert!(Lexer::actions("write_actions(output:3").any(|t| t.is_err()));
        assert!(Lexer::actions("output:3)").any(|t| t.is_err()));
    }
}
