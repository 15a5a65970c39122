//! The YAQL syntax tree. Built once by the parser and evaluated many times; positions are
//! character offsets into the expression text (without the `<% %>` delimiters).

use std::sync::Arc;

/// A literal as written in the source (kept apart from runtime values so the tree owns no data
/// borrowed from a context).
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Arc<str>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    In,
    And,
    Or,
    Match,
    NotMatch,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "mod",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Match => "=~",
            BinOp::NotMatch => "!~",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Plus,
    Not,
}

/// One argument of a call: positional, or `name => value` (a mapping rule).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Pos(Expr),
    Named(Expr, Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: Kind,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Lit(Lit),
    /// A bare word: evaluates to the string itself (`ctx(name)`, `{a => 1}`), or an attribute
    /// name on the right of `.`.
    Keyword(Arc<str>),
    /// `$x` (stored without the `$`).
    Var(Arc<str>),
    /// `$`, `$1`, `$2`: positional lambda arguments (`$` is `$1`).
    PosVar(usize),
    /// `f(args)`.
    Call(Arc<str>, Vec<Arg>),
    /// `recv.f(args)` / `recv?.f(args)`.
    Method {
        recv: Box<Expr>,
        name: Arc<str>,
        args: Vec<Arg>,
        elvis: bool,
    },
    /// `recv.name` / `recv?.name`.
    Attr {
        recv: Box<Expr>,
        name: Arc<str>,
        elvis: bool,
    },
    /// `recv.<anything else>`: always a "no matching function" error when evaluated, kept so the
    /// error surfaces at evaluation time the way yaql reports it.
    BadDot(Box<Expr>, bool),
    /// `recv[args]`.
    Index(Box<Expr>, Vec<Arg>),
    /// `[args]`.
    List(Vec<Arg>),
    /// `{args}`.
    Map(Vec<Arg>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    /// `left -> right`.
    Arrow(Box<Expr>, Box<Expr>),
    /// `(expr)`.
    Paren(Box<Expr>),
}

impl Expr {
    pub fn new(kind: Kind, pos: usize) -> Self {
        Expr { kind, pos }
    }
}
