//! Static syntax checks for expressions, used by spec inspection.
//!
//! YAQL is checked with `gale-expr`'s parser (this module only supplies the reference's
//! wording). `gale-expr` does not expose a Jinja parser, so Jinja uses this conservative
//! structural check: lexical validity, balanced brackets and
//! operand/operator alternation. It rejects what the reference parsers reject in practice
//! (unclosed calls, dangling operators, YAQL names starting with `__`) and never rejects an
//! expression those parsers accept as far as the corpus shows; messages follow the
//! reference's wording where known.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Tok {
    Atom,
    Open(char),
    Close(char),
    BinOp,
    /// Word operators (`and`, `or`, `in`, `is`): may chain as `is in`, `is not`, `not in`.
    KwOp,
    /// Operators that may also be prefix (`-`, `+`).
    PrefixOrBin,
    Prefix,
    Comma,
    Colon,
    Dot,
}

#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    Yaql,
    Jinja,
}

fn lex(src: &str, flavor: Flavor) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut toks = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' || (c == '`' && flavor == Flavor::Yaql) {
            let quote = c;
            let start = i;
            i += 1;
            let mut closed = false;
            while i < chars.len() {
                if chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == quote {
                    closed = true;
                    i += 1;
                    break;
                }
                i += 1;
            }
            if !closed {
                return Err(format!(
                    "Lexical error: illegal character '{quote}' at position {start}"
                ));
            }
            toks.push(Tok::Atom);
            continue;
        }
        if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                // A dot followed by a name is attribute access, not part of the number.
                if chars[i] == '.' && !chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                    break;
                }
                i += 1;
            }
            toks.push(Tok::Atom);
            continue;
        }
        if c == '$' && flavor == Flavor::Yaql {
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            toks.push(Tok::Atom);
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            if flavor == Flavor::Yaql && c == '_' && chars.get(i + 1) == Some(&'_') {
                return Err(format!(
                    "Lexical error: illegal character '_' at position {i}"
                ));
            }
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            toks.push(match word.as_str() {
                "and" | "or" | "in" | "is" => Tok::KwOp,
                "not" => Tok::Prefix,
                "if" | "else" if flavor == Flavor::Jinja => Tok::KwOp,
                _ => Tok::Atom,
            });
            continue;
        }
        let tok = match c {
            '(' | '[' | '{' => Tok::Open(c),
            ')' | ']' | '}' => Tok::Close(c),
            ',' => Tok::Comma,
            ':' => Tok::Colon,
            '.' => Tok::Dot,
            '-' | '+' => Tok::PrefixOrBin,
            '*' | '/' | '%' | '<' | '>' | '=' | '!' | '|' | '&' | '^' | '~' | '?' => Tok::BinOp,
            _ => {
                return Err(format!(
                    "Lexical error: illegal character '{c}' at position {i}"
                ));
            }
        };
        // Fold multi-character operators (`==`, `!=`, `<=`, `=~`, `->`, `**`, `//`).
        if matches!(tok, Tok::BinOp | Tok::PrefixOrBin)
            && matches!(toks.last(), Some(Tok::BinOp) | Some(Tok::PrefixOrBin))
            && i > 0
            && !chars[i - 1].is_whitespace()
        {
            toks.pop();
            toks.push(Tok::BinOp);
        } else {
            toks.push(tok);
        }
        i += 1;
    }
    Ok(toks)
}

fn check(src: &str, flavor: Flavor, eos: &str) -> Result<(), String> {
    let toks = lex(src, flavor)?;
    if toks.is_empty() {
        return Err(format!("unexpected '{eos}'"));
    }
    let mut stack: Vec<char> = Vec::new();
    // Whether the previous token leaves us expecting an operand.
    let mut want_operand = true;
    for (idx, tok) in toks.iter().enumerate() {
        match *tok {
            Tok::Atom => {
                want_operand = false;
            }
            Tok::Open(c) => {
                stack.push(c);
                want_operand = true;
            }
            Tok::Close(c) => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return Err(format!("Parse error: unexpected '{c}'"));
                }
                // `()` / `[]` / `{}` (empty call or literal) is fine; a dangling operator is not.
                let prev = idx.checked_sub(1).map(|p| toks[p]);
                let slice_end = c == ']' && prev == Some(Tok::Colon);
                if want_operand
                    && !slice_end
                    && !matches!(prev, Some(Tok::Open(_)) | Some(Tok::Comma))
                {
                    return Err(format!("Parse error: unexpected '{c}'"));
                }
                want_operand = false;
            }
            Tok::Colon if stack.last() == Some(&'[') => {
                // Slices: `[1:]`, `[::-1]`, `[:2]`.
                want_operand = true;
            }
            Tok::KwOp => {
                let prev = idx.checked_sub(1).map(|p| toks[p]);
                let chained = matches!(prev, Some(Tok::KwOp) | Some(Tok::Prefix));
                if want_operand && !chained {
                    return Err("Parse error: unexpected operator".into());
                }
                want_operand = true;
            }
            Tok::BinOp | Tok::Colon | Tok::Dot => {
                if want_operand {
                    return Err("Parse error: unexpected operator".into());
                }
                want_operand = true;
            }
            Tok::PrefixOrBin | Tok::Prefix => {
                want_operand = true;
            }
            Tok::Comma => {
                if stack.is_empty() && flavor == Flavor::Jinja && want_operand {
                    return Err("unexpected ','".into());
                }
                want_operand = true;
            }
        }
    }
    if !stack.is_empty() || want_operand {
        return Err(match flavor {
            Flavor::Yaql => "Parse error: unexpected end of statement".into(),
            Flavor::Jinja => format!("unexpected '{eos}'"),
        });
    }
    Ok(())
}

/// Check the inside of one `<% %>` with the YAQL parser; the message uses the reference's
/// wording where the structural check recognises the problem.
pub fn check_yaql(expr: &str) -> Result<(), String> {
    match gale_expr::yaql::Expression::parse(expr) {
        Ok(_) => Ok(()),
        Err(e) => Err(check(expr, Flavor::Yaql, "end of statement")
            .err()
            .unwrap_or_else(|| parser_message(&e.to_string()))),
    }
}

/// `"... YaqlGrammarException: Parse error: x at position 3 in expression '...'"` →
/// `"Parse error: x at position 3"`.
fn parser_message(full: &str) -> String {
    let tail = full
        .split_once("Exception: Parse error")
        .map(|(_, t)| format!("Parse error{t}"))
        .or_else(|| {
            full.split_once("Exception: Lexical error")
                .map(|(_, t)| format!("Lexical error{t}"))
        })
        .unwrap_or_else(|| full.to_string());
    match tail.find(" in expression '") {
        Some(i) => tail[..i].to_string(),
        None => tail,
    }
}

/// Check the inside of one `{{ }}`.
pub fn check_jinja_expr(expr: &str) -> Result<(), String> {
    check(expr, Flavor::Jinja, "end of print statement")
}

/// Check a whole Jinja template: every `{{ }}` and the nesting of `{% %}` blocks.
pub fn check_jinja_template(text: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("{%") {
        let after = &rest[pos + 2..];
        let Some(end) = after.find("%}") else {
            return Err("unexpected end of template".into());
        };
        let body = after[..end]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        let word = body.split_whitespace().next().unwrap_or("");
        match word {
            "if" | "for" | "macro" | "call" | "filter" | "block" | "raw" | "with" => {
                stack.push(word.to_string())
            }
            "set" if !body.contains('=') => stack.push("set".into()),
            w if w.starts_with("end") => {
                if stack.pop().as_deref() != Some(&w[3..]) {
                    return Err(format!("Encountered unknown tag '{w}'."));
                }
            }
            "elif" | "else" | "set" | "include" | "import" | "from" | "extends" | "do"
            | "break" | "continue" => {}
            other => return Err(format!("Encountered unknown tag '{other}'.")),
        }
        rest = &after[end + 2..];
    }
    if let Some(open) = stack.pop() {
        return Err(format!(
            "Unexpected end of template. Jinja was looking for the following tags: 'end{open}'."
        ));
    }
    let mut rest = text;
    while let Some(pos) = rest.find("{{") {
        let after = &rest[pos + 2..];
        let Some(end) = after.find("}}") else { break };
        check_jinja_expr(after[..end].trim())?;
        rest = &after[end + 2..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaql() {
        assert!(check_yaql("ctx(x)").is_ok());
        assert!(check_yaql("ctx().a.b.select($.name).where($ > 1)").is_ok());
        assert!(check_yaql("ctx(a) + -1 = 2 and not true").is_ok());
        assert!(check_yaql("{a => 1, 'b' => [1, 2]}").is_ok());
        assert!(check_yaql("result().x in list(1, 2)").is_ok());
        assert!(check_yaql("ctx(x").is_err());
        assert!(check_yaql("ctx(__state)").is_err());
        assert!(check_yaql("1 +").is_err());
        assert!(check_yaql("").is_err());
    }

    #[test]
    fn jinja() {
        assert!(check_jinja_expr("ctx('x') == 1").is_ok());
        assert!(check_jinja_expr("ctx().items | length > 0").is_ok());
        assert!(check_jinja_expr("'a' if ctx(x) else 'b'").is_ok());
        assert!(check_jinja_expr("ctx('x') ==").is_err());
        assert!(check_jinja_template("{% if ctx('a') %}x{% endif %}").is_ok());
        assert!(check_jinja_template("{% for i in ctx('a') %}{{ i }}{% endfor %}").is_ok());
        assert!(check_jinja_template("{% if ctx('a') %}x").is_err());
        assert!(check_jinja_template("{{ ctx('a') + }}").is_err());
    }
}

#[cfg(test)]
mod corpus {
    /// No false positives: every Jinja expression the reference evaluates without error must
    /// pass inspection (skipped when the shared corpus is not beside the repo).
    #[test]
    fn valid_corpus_expressions_pass() {
        for file in ["jinja.jsonl", "yaql.jsonl"] {
            check_file(file);
        }
    }

    fn check_file(file: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance/expressions")
            .join(file);
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let mut bad = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let case: serde_json::Value = serde_json::from_str(line).unwrap();
            let expr = case["expr"].as_str().unwrap_or("");
            // Evaluation errors, and strings Orquesta's own inspection rejects too (mixed
            // languages; `{{ }}` inside a string literal, which its regex cuts short).
            let mixed = expr.contains("<%") && (expr.contains("{{") || expr.contains("{%"));
            if case.get("error").is_some() || mixed || expr.contains("'{{") {
                continue;
            }
            let issues = crate::expr::validate(&serde_json::Value::String(expr.to_string()));
            if !issues.is_empty() {
                bad.push(format!("{}: {expr} -> {}", case["id"], issues[0].message));
            }
        }
        assert!(
            bad.is_empty(),
            "{} false positives:\n{}",
            bad.len(),
            bad.join("\n")
        );
    }
}
