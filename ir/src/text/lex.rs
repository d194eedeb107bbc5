//! The tokenizer of the text form: one line at a time, since no token spans lines.
//!
//! A `;` outside a string starts a comment that runs to the end of the line. Strings are
//! double-quoted with the escapes `\\ \" \n \t \r \u{XXXX}` (the printer writes the same ones).

/// One token of a line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// `%name`: a value (the name without `%`).
    Value(String),
    /// A bare word: an op name, `output`, `true`, a dtype, a symbol, `inf`.
    Word(String),
    /// Something that starts like a number (`-1.5e-6`, `64`, `-inf`); read by whoever needs it.
    Num(String),
    Str(String),
    Punct(char),
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Value(v) => format!("`%{v}`"),
            Tok::Word(w) | Tok::Num(w) => format!("`{w}`"),
            Tok::Str(s) => format!("string {}", super::print::quote(s)),
            Tok::Punct(c) => format!("`{c}`"),
        }
    }
}

const PUNCT: &[char] = &['=', ',', ':', '{', '}', '[', ']'];

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Splits a line into tokens, dropping a trailing comment.
pub(crate) fn tokenize(line: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == ';' {
            break;
        } else if c == '"' {
            chars.next();
            toks.push(Tok::Str(string(&mut chars)?));
        } else if PUNCT.contains(&c) {
            chars.next();
            toks.push(Tok::Punct(c));
        } else if c == '%' {
            chars.next();
            let name = take_while(&mut chars, line, is_word_char);
            if name.is_empty() {
                return Err(format!("`%` at column {} must be followed by a value name", i + 1));
            }
            toks.push(Tok::Value(name.to_string()));
        } else if c.is_ascii_digit() || c == '-' || c == '+' {
            toks.push(Tok::Num(number(&mut chars)));
        } else if c.is_ascii_alphabetic() || c == '_' {
            toks.push(Tok::Word(take_while(&mut chars, line, is_word_char).to_string()));
        } else {
            return Err(format!("unexpected character {c:?} at column {}", i + 1));
        }
    }
    Ok(toks)
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn take_while<'a>(chars: &mut Chars<'_>, line: &'a str, f: impl Fn(char) -> bool) -> &'a str {
    let start = chars.peek().map_or(line.len(), |&(i, _)| i);
    let mut end = start;
    while let Some(&(i, c)) = chars.peek() {
        if !f(c) {
            break;
        }
        end = i + c.len_utf8();
        chars.next();
    }
    &line[start..end]
}

/// A sign, then word characters, where `+`/`-` may also follow an exponent `e`.
fn number(chars: &mut Chars<'_>) -> String {
    let mut s = String::new();
    if let Some((_, c)) = chars.next_if(|&(_, c)| c == '-' || c == '+') {
        s.push(c);
    }
    loop {
        let after_e = s.ends_with(['e', 'E']) && s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
        let next = chars.next_if(|&(_, c)| is_word_char(c) || (after_e && (c == '-' || c == '+')));
        match next {
            Some((_, c)) => s.push(c),
            None => break,
        }
    }
    s
}

/// The rest of a string literal whose opening quote was consumed.
fn string(chars: &mut Chars<'_>) -> Result<String, String> {
    let mut s = String::new();
    loop {
        match chars.next() {
            None => return Err("unterminated string".into()),
            Some((_, '"')) => return Ok(s),
            Some((_, '\\')) => s.push(escape(chars)?),
            Some((_, c)) => s.push(c),
        }
    }
}

fn escape(chars: &mut Chars<'_>) -> Result<char, String> {
    match chars.next() {
        Some((_, '\\')) => Ok('\\'),
        Some((_, '"')) => Ok('"'),
        Some((_, 'n')) => Ok('\n'),
        Some((_, 't')) => Ok('\t'),
        Some((_, 'r')) => Ok('\r'),
        Some((_, 'u')) => unicode_escape(chars),
        Some((_, c)) => Err(format!("unknown escape `\\{c}` in string")),
        None => Err("unterminated string".into()),
    }
}

/// `{XXXX}` after `\u`.
fn unicode_escape(chars: &mut Chars<'_>) -> Result<char, String> {
    if chars.next_if(|&(_, c)| c == '{').is_none() {
        return Err("`\\u` must be followed by `{hex}`".into());
    }
    let mut hex = String::new();
    while let Some((_, c)) = chars.next_if(|&(_, c)| c.is_ascii_hexdigit()) {
        hex.push(c);
    }
    if chars.next_if(|&(_, c)| c == '}').is_none() || hex.is_empty() || hex.len() > 6 {
        return Err("`\\u{...}` takes 1 to 6 hex digits".into());
    }
    u32::from_str_radix(&hex, 16)
        .ok()
        .and_then(char::from_u32)
        .ok_or_else(|| format!("`\\u{{{hex}}}` is not a character"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_node_line() {
        let toks = tokenize(r#"%8, %9 = moe_router %3, %4 {scale = -2.5e-3} : i32[t, 8] "a\"b" ; note"#).unwrap();
        let want = vec![
            Tok::Value("8".into()),
            Tok::Punct(','),
            Tok::Value("9".into()),
            Tok::Punct('='),
            Tok::Word("moe_router".into()),
            Tok::Value("3".into()),
            Tok::Punct(','),
            Tok::Value("4".into()),
            Tok::Punct('{'),
            Tok::Word("scale".into()),
            Tok::Punct('='),
            Tok::Num("-2.5e-3".into()),
            Tok::Punct('}'),
            Tok::Punct(':'),
            Tok::Word("i32".into()),
            Tok::Punct('['),
            Tok::Word("t".into()),
            Tok::Punct(','),
            Tok::Num("8".into()),
            Tok::Punct(']'),
            Tok::Str("a\"b".into()),
        ];
        assert_eq!(toks, want);
    }

    #[test]
    fn semicolon_in_string_is_not_a_comment() {
        assert_eq!(tokenize(r#""a;b" ; c"#).unwrap(), vec![Tok::Str("a;b".into())]);
    }

    #[test]
    fn rejects_bad_escapes_and_open_strings() {
        assert!(tokenize(r#""a\qb""#).is_err());
        assert!(tokenize(r#""abc"#).is_err());
        assert!(tokenize(r#""\u{110000}""#).is_err());
        assert!(tokenize("%").is_err());
        assert!(tokenize("#").is_err());
    }
}
