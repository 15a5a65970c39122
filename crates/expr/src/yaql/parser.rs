//! Pratt parser reproducing yaql's operator table (highest first): `.` `?.`; `[]`; unary `+ -`;
//! `=~ !~`; `* / mod`; `+ -`; comparisons and `in`; `not`; `and`; `or`; `->` (right
//! associative). Nesting depth is bounded so hostile input cannot overflow the stack.

use super::ast::{Arg, BinOp, Expr, Kind, UnOp};
use super::lexer::{tokenize, Tok, Token};
use super::YaqlError;

/// Deepest nesting of sub-expressions accepted by the parser.
pub const MAX_DEPTH: usize = 96;

const BP_ARROW: u8 = 1;
const BP_OR: u8 = 2;
const BP_AND: u8 = 3;
const BP_NOT: u8 = 4;
const BP_CMP: u8 = 5;
const BP_ADD: u8 = 6;
const BP_MUL: u8 = 7;
const BP_MATCH: u8 = 8;
const BP_UNARY: u8 = 9;
const BP_INDEX: u8 = 10;
const BP_DOT: u8 = 11;

pub fn parse(src: &str) -> Result<Expr, YaqlError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
    };
    let e = p.expr(0)?;
    if p.peek().tok != Tok::Eof {
        return Err(p.unexpected());
    }
    Ok(e)
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

fn infix(tok: &Tok) -> Option<(u8, bool)> {
    // (binding power, right associative)
    let op = match tok {
        Tok::Op(op) => *op,
        _ => return None,
    };
    Some(match op {
        "->" => (BP_ARROW, true),
        "or" => (BP_OR, false),
        "and" => (BP_AND, false),
        "=" | "!=" | "<" | ">" | "<=" | ">=" | "in" => (BP_CMP, false),
        "+" | "-" => (BP_ADD, false),
        "*" | "/" | "mod" => (BP_MUL, false),
        "=~" | "!~" => (BP_MATCH, false),
        "[" => (BP_INDEX, false),
        "." | "?." => (BP_DOT, false),
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn unexpected(&self) -> YaqlError {
        let t = self.peek();
        let what = match &t.tok {
            Tok::Eof => "end of expression".to_string(),
            Tok::Dollar(n) => format!("'${n}'"),
            Tok::Lit(l) => format!("{l:?}"),
            Tok::Func(n) => format!("'{n}('"),
            Tok::Keyword(k) => format!("'{k}'"),
            Tok::Op(o) => format!("'{o}'"),
        };
        YaqlError::new(
            "YaqlGrammarException",
            format!("Parse error: unexpected {what}"),
            Some(t.pos),
        )
    }

    fn expect(&mut self, op: &str) -> Result<(), YaqlError> {
        if matches!(self.peek().tok, Tok::Op(o) if o == op) {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expr(&mut self, min_bp: u8) -> Result<Expr, YaqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let pos = self.peek().pos;
            return Err(YaqlError::new(
                "YaqlGrammarException",
                format!("expression nests deeper than {MAX_DEPTH} levels"),
                Some(pos),
            ));
        }
        let r = self.expr_inner(min_bp);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, min_bp: u8) -> Result<Expr, YaqlError> {
        let mut left = self.prefix()?;
        while let Some((bp, right_assoc)) = infix(&self.peek().tok) {
            if bp <= min_bp {
                break;
            }
            let t = self.next();
            let op = match t.tok {
                Tok::Op(op) => op,
                _ => unreachable!("infix() only accepts operators"),
            };
            left = match op {
                "[" => {
                    let args = self.args("]")?;
                    Expr::new(Kind::Index(Box::new(left), args), t.pos)
                }
                "." | "?." => {
                    let elvis = op == "?.";
                    let rhs = self.expr(BP_DOT)?;
                    let recv = Box::new(left);
                    match rhs.kind {
                        Kind::Call(name, args) => Expr::new(
                            Kind::Method {
                                recv,
                                name,
                                args,
                                elvis,
                            },
                            rhs.pos,
                        ),
                        Kind::Keyword(name) => Expr::new(Kind::Attr { recv, name, elvis }, rhs.pos),
                        _ => Expr::new(Kind::BadDot(recv, elvis), t.pos),
                    }
                }
                "->" => {
                    let rhs = self.expr(if right_assoc { bp - 1 } else { bp })?;
                    Expr::new(Kind::Arrow(Box::new(left), Box::new(rhs)), t.pos)
                }
                _ => {
                    let rhs = self.expr(bp)?;
                    let bop = match op {
                        "or" => BinOp::Or,
                        "and" => BinOp::And,
                        "=" => BinOp::Eq,
                        "!=" => BinOp::Ne,
                        "<" => BinOp::Lt,
                        ">" => BinOp::Gt,
                        "<=" => BinOp::Le,
                        ">=" => BinOp::Ge,
                        "in" => BinOp::In,
                        "+" => BinOp::Add,
                        "-" => BinOp::Sub,
                        "*" => BinOp::Mul,
                        "/" => BinOp::Div,
                        "mod" => BinOp::Mod,
                        "=~" => BinOp::Match,
                        "!~" => BinOp::NotMatch,
                        _ => unreachable!("all infix operators are listed"),
                    };
                    Expr::new(Kind::Binary(bop, Box::new(left), Box::new(rhs)), t.pos)
                }
            };
        }
        Ok(left)
    }

    fn prefix(&mut self) -> Result<Expr, YaqlError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Lit(l) => {
                self.next();
                Ok(Expr::new(Kind::Lit(l), t.pos))
            }
            Tok::Keyword(k) => {
                self.next();
                Ok(Expr::new(Kind::Keyword(k), t.pos))
            }
            Tok::Dollar(name) => {
                self.next();
                if name.is_empty() {
                    return Ok(Expr::new(Kind::PosVar(1), t.pos));
                }
                match name.parse::<usize>() {
                    Ok(n) if n >= 1 && name.chars().all(|c| c.is_ascii_digit()) => {
                        Ok(Expr::new(Kind::PosVar(n), t.pos))
                    }
                    _ => Ok(Expr::new(Kind::Var(name), t.pos)),
                }
            }
            Tok::Func(name) => {
                self.next();
                let args = self.args(")")?;
                Ok(Expr::new(Kind::Call(name, args), t.pos))
            }
            Tok::Op("(") => {
                self.next();
                let e = self.expr(0)?;
                self.expect(")")?;
                Ok(Expr::new(Kind::Paren(Box::new(e)), t.pos))
            }
            Tok::Op("[") => {
                self.next();
                let args = self.args("]")?;
                Ok(Expr::new(Kind::List(args), t.pos))
            }
            Tok::Op("{") => {
                self.next();
                let args = self.args("}")?;
                Ok(Expr::new(Kind::Map(args), t.pos))
            }
            Tok::Op(op @ ("-" | "+" | "not")) => {
                self.next();
                let (uop, bp) = match op {
                    "-" => (UnOp::Neg, BP_UNARY),
                    "+" => (UnOp::Plus, BP_UNARY),
                    _ => (UnOp::Not, BP_NOT),
                };
                let operand = self.expr(bp)?;
                Ok(Expr::new(Kind::Unary(uop, Box::new(operand)), t.pos))
            }
            _ => Err(self.unexpected()),
        }
    }

    /// Arguments up to the closing token: positional ones first, then `name => value` ones.
    fn args(&mut self, close: &'static str) -> Result<Vec<Arg>, YaqlError> {
        let mut args = Vec::new();
        if self.peek().tok == Tok::Op(close) {
            self.next();
            return Ok(args);
        }
        let mut named_seen = false;
        loop {
            let e = self.expr(0)?;
            if self.peek().tok == Tok::Op("=>") {
                self.next();
                let v = self.expr(0)?;
                args.push(Arg::Named(e, v));
                named_seen = true;
            } else {
                if named_seen {
                    return Err(YaqlError::new(
                        "YaqlGrammarException",
                        "Parse error: positional argument after named arguments".to_string(),
                        Some(e.pos),
                    ));
                }
                args.push(Arg::Pos(e));
            }
            match self.peek().tok {
                Tok::Op(",") => {
                    self.next();
                }
                Tok::Op(c) if c == close => {
                    self.next();
                    return Ok(args);
                }
                _ => return Err(self.unexpected()),
            }
        }
    }
}
