//! YAQL tokens, following yaql's PLY lexer: function rules first (`$var`, numbers,
//! `name(`, keywords, quoted strings), then operators by longest match.

use std::sync::Arc;

use super::ast::Lit;
use super::YaqlError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// `$name` (name may be empty).
    Dollar(Arc<str>),
    Lit(Lit),
    /// An identifier immediately followed by `(` (the `(` is consumed).
    Func(Arc<str>),
    Keyword(Arc<str>),
    /// Operators, word operators (`and`, `or`, `not`, `in`, `mod`) and punctuation.
    Op(&'static str),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

const OPS2: [&str; 8] = ["?.", "=~", "!~", "->", ">=", "<=", "!=", "=>"];
const OPS1: [&str; 15] = [
    ".", "+", "-", "*", "/", ">", "<", "=", "[", "{", "(", ")", "]", ",", "}",
];
const WORD_OPS: [&str; 5] = ["mod", "in", "not", "and", "or"];

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_ident_start(c: char) -> bool {
    is_word(c) && !c.is_ascii_digit()
}

fn lex_err(msg: String, pos: usize) -> YaqlError {
    YaqlError::new("YaqlLexicalException", msg, Some(pos))
}

pub fn tokenize(src: &str) -> Result<Vec<Token>, YaqlError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let n = chars.len();
    while i < n {
        let c = chars[i];
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            i += 1;
            continue;
        }
        let start = i;
        // $name
        if c == '$' {
            i += 1;
            while i < n && is_word(chars[i]) {
                i += 1;
            }
            let name: String = chars[start + 1..i].iter().collect();
            out.push(Token {
                tok: Tok::Dollar(name.into()),
                pos: start,
            });
            continue;
        }
        // number: \b\d+(\.?\d+)?\b
        if c.is_ascii_digit() {
            let mut j = i;
            while j < n && chars[j].is_ascii_digit() {
                j += 1;
            }
            let int_end = j;
            let mut end = None;
            if j < n && chars[j] == '.' && j + 1 < n && chars[j + 1].is_ascii_digit() {
                let mut k = j + 1;
                while k < n && chars[k].is_ascii_digit() {
                    k += 1;
                }
                if k >= n || !is_word(chars[k]) {
                    end = Some(k);
                }
            }
            if end.is_none() && (int_end >= n || !is_word(chars[int_end])) {
                end = Some(int_end);
            }
            if let Some(e) = end {
                let text: String = chars[i..e].iter().collect();
                let lit = if text.contains('.') {
                    Lit::Float(
                        text.parse::<f64>()
                            .map_err(|_| lex_err(format!("invalid number '{text}'"), start))?,
                    )
                } else {
                    Lit::Int(
                        text.parse::<i128>()
                            .map_err(|_| lex_err(format!("number '{text}' is too large"), start))?,
                    )
                };
                out.push(Token {
                    tok: Tok::Lit(lit),
                    pos: start,
                });
                i = e;
                continue;
            }
            return Err(lex_err(
                format!("Lexical error: illegal character '{c}'"),
                start,
            ));
        }
        if is_ident_start(c) {
            let mut j = i + 1;
            while j < n && is_word(chars[j]) {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            if j < n && chars[j] == '(' {
                out.push(Token {
                    tok: Tok::Func(word.into()),
                    pos: start,
                });
                i = j + 1;
                continue;
            }
            if word.starts_with("__") {
                return Err(lex_err(
                    "Lexical error: illegal character '_' (names may not start with '__')"
                        .to_string(),
                    start,
                ));
            }
            let tok = match word.as_str() {
                "true" => Tok::Lit(Lit::Bool(true)),
                "false" => Tok::Lit(Lit::Bool(false)),
                "null" => Tok::Lit(Lit::Null),
                w => match WORD_OPS.iter().find(|o| **o == w) {
                    Some(op) => Tok::Op(op),
                    None => Tok::Keyword(word.into()),
                },
            };
            out.push(Token { tok, pos: start });
            i = j;
            continue;
        }
        if c == '\'' || c == '"' || c == '`' {
            let mut j = i + 1;
            let mut closed = false;
            while j < n {
                if chars[j] == '\\' {
                    j += 2;
                    continue;
                }
                if chars[j] == c {
                    closed = true;
                    break;
                }
                j += 1;
            }
            if !closed {
                return Err(lex_err(
                    format!("Lexical error: illegal character '{c}' (unterminated string)"),
                    start,
                ));
            }
            let body: String = chars[i + 1..j].iter().collect();
            let value = if c == '`' {
                body.replace("\\`", "`")
            } else {
                decode_escapes(&body).map_err(|m| lex_err(m, start))?
            };
            out.push(Token {
                tok: Tok::Lit(Lit::Str(value.into())),
                pos: start,
            });
            i = j + 1;
            continue;
        }
        if i + 1 < n {
            let two: String = chars[i..i + 2].iter().collect();
            if let Some(op) = OPS2.iter().find(|o| **o == two) {
                out.push(Token {
                    tok: Tok::Op(op),
                    pos: start,
                });
                i += 2;
                continue;
            }
        }
        let one = c.to_string();
        if let Some(op) = OPS1.iter().find(|o| **o == one) {
            out.push(Token {
                tok: Tok::Op(op),
                pos: start,
            });
            i += 1;
            continue;
        }
        return Err(lex_err(
            format!("Lexical error: illegal character '{c}'"),
            start,
        ));
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: n,
    });
    Ok(out)
}

/// Python `unicode_escape` applied only to recognised escape sequences (yaql's
/// `decode_escapes`); anything else (`\d`, `\s`) is kept verbatim for regexes.
pub fn decode_escapes(s: &str) -> Result<String, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let hex = |slice: &[char]| -> Option<u32> {
        let t: String = slice.iter().collect();
        if t.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(&t, 16).ok()
        } else {
            None
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = chars[i + 1];
        let simple = match e {
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            _ => None,
        };
        if let Some(ch) = simple {
            out.push(ch);
            i += 2;
            continue;
        }
        let width = match e {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if width > 0 && i + 2 + width <= chars.len() {
            let code = hex(&chars[i + 2..i + 2 + width])
                .ok_or_else(|| format!("invalid \\{e} escape in string literal"))?;
            let ch = char::from_u32(code)
                .ok_or_else(|| format!("invalid character code {code:#x} in string literal"))?;
            out.push(ch);
            i += 2 + width;
            continue;
        }
        if ('0'..='7').contains(&e) {
            let mut j = i + 1;
            let mut code = 0u32;
            while j < chars.len() && j < i + 4 && ('0'..='7').contains(&chars[j]) {
                code = code * 8 + chars[j].to_digit(8).unwrap_or(0);
                j += 1;
            }
            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            i = j;
            continue;
        }
        if e == 'N' && i + 2 < chars.len() && chars[i + 2] == '{' {
            return Err("\\N{...} escapes are not supported".into());
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}
