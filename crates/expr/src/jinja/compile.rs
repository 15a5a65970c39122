//! Compilation: minijinja's parser, an AST rewrite that routes the operators whose Python
//! semantics minijinja does not share to the `__py_*` globals, then minijinja's code generator.
//!
//! Compiled programs are cached by source text. Cached sources are leaked (minijinja's
//! instructions borrow their source); the cache is bounded, and once full new sources are
//! compiled per call instead of leaked, so memory stays bounded.

use minijinja::machinery::ast::{self, CallArg, Expr, Spanned, Stmt};
use minijinja::machinery::{
    parse, parse_expr, CodeGenerator, Instructions, Span, WhitespaceConfig,
};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value;
use minijinja::Error as MjError;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// A compiled expression (`{{ ... }}` body) or whole template.
pub struct Program<'s> {
    pub instructions: Instructions<'s>,
    pub blocks: BTreeMap<&'s str, Instructions<'s>>,
    /// The JSON-native evaluator for this program, when it is in the fast subset.
    pub fast: Option<super::fast::Fast>,
    /// Length of the last rendered output (to size the next buffer).
    pub size_hint: std::sync::atomic::AtomicUsize,
}

const CACHE_LIMIT: usize = 4096;
/// Sources longer than this are compiled per call rather than leaked into the cache.
const CACHE_MAX_SOURCE: usize = 16 * 1024;

type Cache = Mutex<HashMap<String, Arc<Program<'static>>>>;

fn cache(template: bool) -> &'static Cache {
    static E: OnceLock<Cache> = OnceLock::new();
    static T: OnceLock<Cache> = OnceLock::new();
    let c = if template { &T } else { &E };
    c.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Either a cached program or one compiled for this call only.
pub enum ProgramRef<'s> {
    Cached(Arc<Program<'static>>),
    Local(Box<Program<'s>>),
}

impl<'s> ProgramRef<'s> {
    pub fn get(&self) -> &Program<'s> {
        match self {
            ProgramRef::Cached(p) => p,
            ProgramRef::Local(p) => p.as_ref(),
        }
    }
}

/// Compile (or fetch from the cache) an expression or a template.
pub fn get(source: &str, template: bool) -> Result<ProgramRef<'_>, MjError> {
    if let Ok(c) = cache(template).lock() {
        if let Some(p) = c.get(source) {
            return Ok(ProgramRef::Cached(p.clone()));
        }
        if c.len() >= CACHE_LIMIT || source.len() > CACHE_MAX_SOURCE {
            drop(c);
            return compile(source, template).map(|p| ProgramRef::Local(Box::new(p)));
        }
    }
    // Compile once unleaked so a source that does not compile is never leaked.
    let local = compile(source, template)?;
    drop(local);
    let leaked: &'static str = Box::leak(source.to_string().into_boxed_str());
    let program = Arc::new(compile(leaked, template)?);
    if let Ok(mut c) = cache(template).lock() {
        c.insert(leaked.to_string(), program.clone());
    }
    Ok(ProgramRef::Cached(program))
}

/// Compile without caching.
pub fn compile(source: &str, template: bool) -> Result<Program<'_>, MjError> {
    SOURCE.with(|s| {
        let mut s = s.borrow_mut();
        s.clear();
        s.push_str(source);
    });
    if template {
        let ws = WhitespaceConfig {
            keep_trailing_newline: false,
            lstrip_blocks: true,
            trim_blocks: true,
        };
        let parsed = parse(source, "<template>", SyntaxConfig::default(), ws)?;
        let fast = super::fast::from_template(&parsed);
        let stmt = rs(&parsed);
        let mut g = CodeGenerator::new("<template>", source);
        g.compile_stmt(&stmt);
        let (instructions, blocks) = g.finish();
        Ok(Program {
            instructions,
            blocks,
            fast,
            size_hint: Default::default(),
        })
    } else {
        let parsed = parse_expr(source)?;
        let fast = super::fast::from_expr(&parsed);
        let expr = rx(&parsed);
        let mut g = CodeGenerator::new("<expression>", source);
        g.compile_expr(&expr);
        let (instructions, blocks) = g.finish();
        Ok(Program {
            instructions,
            blocks,
            fast,
            size_hint: Default::default(),
        })
    }
}

thread_local! {
    // Source of the program being rewritten (tuples are told from lists by their parenthesis).
    static SOURCE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Assignment targets (`for k, v in`, `set ns.x =`) are copied without rewriting.
fn target<'a>(e: &Expr<'a>) -> Expr<'a> {
    match e {
        Expr::Var(v) => Expr::Var(sp(ast::Var { id: v.id }, v.span())),
        Expr::List(l) => Expr::List(sp(
            ast::List {
                items: l.items.iter().map(target).collect(),
            },
            l.span(),
        )),
        Expr::GetAttr(g) => Expr::GetAttr(sp(
            ast::GetAttr {
                expr: target(&g.expr),
                name: g.name,
            },
            g.span(),
        )),
        other => rx(other),
    }
}

fn starts_with_paren(span: Span) -> bool {
    SOURCE.with(|s| s.borrow().as_bytes().get(span.start_offset as usize) == Some(&b'('))
}

fn sp<T>(node: T, span: Span) -> Spanned<T> {
    Spanned::new(node, span)
}

fn call_global<'a>(name: &'a str, args: Vec<Expr<'a>>, span: Span) -> Expr<'a> {
    Expr::Call(sp(
        ast::Call {
            expr: Expr::Var(sp(ast::Var { id: name }, span)),
            args: args.into_iter().map(CallArg::Pos).collect(),
        },
        span,
    ))
}

fn konst<'a>(v: &str, span: Span) -> Expr<'a> {
    Expr::Const(sp(
        ast::Const {
            value: Value::from(v),
        },
        span,
    ))
}

fn hoist<'a>(inner: Expr<'a>, build: &dyn Fn(Expr<'a>) -> Expr<'a>) -> Expr<'a> {
    match &inner {
        Expr::UnaryOp(u) => Expr::UnaryOp(sp(
            ast::UnaryOp {
                op: match u.op {
                    ast::UnaryOpKind::Not => ast::UnaryOpKind::Not,
                    ast::UnaryOpKind::Neg => ast::UnaryOpKind::Neg,
                },
                expr: hoist(rx(&u.expr), build),
            },
            u.span(),
        )),
        _ => build(inner),
    }
}

fn rxs<'a>(v: &[Expr<'a>]) -> Vec<Expr<'a>> {
    v.iter().map(rx).collect()
}

fn rargs<'a>(v: &[CallArg<'a>]) -> Vec<CallArg<'a>> {
    v.iter()
        .map(|a| match a {
            CallArg::Pos(e) => CallArg::Pos(rx(e)),
            CallArg::Kwarg(k, e) => CallArg::Kwarg(k, rx(e)),
            CallArg::PosSplat(e) => CallArg::PosSplat(rx(e)),
            CallArg::KwargSplat(e) => CallArg::KwargSplat(rx(e)),
        })
        .collect()
}

fn cmp_name(op: &ast::CompareOpKind) -> &'static str {
    use ast::CompareOpKind::*;
    match op {
        Eq => "==",
        Ne => "!=",
        Lt => "<",
        Lte => "<=",
        Gt => ">",
        Gte => ">=",
        In => "in",
        NotIn => "not in",
    }
}

fn rcall<'a>(c: &Spanned<ast::Call<'a>>) -> Spanned<ast::Call<'a>> {
    sp(
        ast::Call {
            expr: rx(&c.expr),
            args: rargs(&c.args),
        },
        c.span(),
    )
}

/// Rewrite an expression tree.
pub fn rx<'a>(e: &Expr<'a>) -> Expr<'a> {
    use ast::BinOpKind as B;
    match e {
        Expr::Var(v) => Expr::Var(sp(ast::Var { id: v.id }, v.span())),
        Expr::Const(c) => {
            let k = Expr::Const(sp(
                ast::Const {
                    value: c.value.clone(),
                },
                c.span(),
            ));
            // the parser folds constant tuples into constant lists
            if c.value.kind() == minijinja::value::ValueKind::Seq && starts_with_paren(c.span()) {
                call_global("__py_tuple", vec![k], c.span())
            } else {
                k
            }
        }
        Expr::Slice(s) => hoist(rx(&s.expr), &|inner| {
            Expr::Slice(sp(
                ast::Slice {
                    expr: inner,
                    start: s.start.as_ref().map(rx),
                    stop: s.stop.as_ref().map(rx),
                    step: s.step.as_ref().map(rx),
                },
                s.span(),
            ))
        }),
        Expr::UnaryOp(u) => Expr::UnaryOp(sp(
            ast::UnaryOp {
                op: match u.op {
                    ast::UnaryOpKind::Not => ast::UnaryOpKind::Not,
                    ast::UnaryOpKind::Neg => ast::UnaryOpKind::Neg,
                },
                expr: rx(&u.expr),
            },
            u.span(),
        )),
        Expr::BinOp(b) => {
            let span = b.span();
            let f = match b.op {
                B::Add => Some("__py_add"),
                B::Sub => Some("__py_sub"),
                B::Mul => Some("__py_mul"),
                B::Div => Some("__py_div"),
                B::FloorDiv => Some("__py_floordiv"),
                B::Rem => Some("__py_mod"),
                B::Pow => Some("__py_pow"),
                B::Concat => Some("__py_concat"),
                _ => None,
            };
            if let Some(f) = f {
                return call_global(f, vec![rx(&b.left), rx(&b.right)], span);
            }
            // `a and b` / `a or b` with a constant left side: minijinja folds these into a
            // bool, Python returns the deciding operand.
            if let (B::ScAnd | B::ScOr, Expr::Const(c)) = (b.op, &b.left) {
                let left_true = c.value.is_true();
                let pick_right = matches!(b.op, B::ScAnd) == left_true;
                return if pick_right {
                    rx(&b.right)
                } else {
                    rx(&b.left)
                };
            }
            let cmp = match b.op {
                B::Eq => Some("=="),
                B::Ne => Some("!="),
                B::Lt => Some("<"),
                B::Lte => Some("<="),
                B::Gt => Some(">"),
                B::Gte => Some(">="),
                B::In => Some("in"),
                _ => None,
            };
            if let Some(op) = cmp {
                return call_global(
                    "__py_cmp",
                    vec![rx(&b.left), konst(op, span), rx(&b.right)],
                    span,
                );
            }
            Expr::BinOp(sp(
                ast::BinOp {
                    op: b.op,
                    left: rx(&b.left),
                    right: rx(&b.right),
                },
                span,
            ))
        }
        Expr::Compare(c) => {
            let span = c.span();
            let mut args = vec![rx(&c.expr)];
            for op in &c.ops {
                args.push(konst(cmp_name(&op.op), span));
                args.push(rx(&op.expr));
            }
            call_global("__py_cmp", args, span)
        }
        // Jinja2 yields a plain (printable-as-empty) Undefined for a missing `else`.
        Expr::IfExpr(i) => Expr::IfExpr(sp(
            ast::IfExpr {
                test_expr: rx(&i.test_expr),
                true_expr: rx(&i.true_expr),
                false_expr: Some(match &i.false_expr {
                    Some(e) => rx(e),
                    None => Expr::Var(sp(ast::Var { id: "__py_undef" }, i.span())),
                }),
            },
            i.span(),
        )),
        Expr::Filter(f) => Expr::Filter(sp(
            ast::Filter {
                name: f.name,
                expr: f.expr.as_ref().map(rx),
                args: rargs(&f.args),
            },
            f.span(),
        )),
        Expr::Test(t) => Expr::Test(sp(
            ast::Test {
                name: t.name,
                expr: rx(&t.expr),
                args: rargs(&t.args),
            },
            t.span(),
        )),
        // minijinja binds a unary minus tighter than postfix operators (`-ctx().n` would
        // negate the function); Jinja2 applies it to the whole primary, so hoist it out.
        Expr::GetAttr(g) => hoist(rx(&g.expr), &|inner| {
            Expr::GetAttr(sp(
                ast::GetAttr {
                    expr: inner,
                    name: g.name,
                },
                g.span(),
            ))
        }),
        Expr::GetItem(g) => hoist(rx(&g.expr), &|inner| {
            Expr::GetItem(sp(
                ast::GetItem {
                    expr: inner,
                    subscript_expr: rx(&g.subscript_expr),
                },
                g.span(),
            ))
        }),
        Expr::Call(c) => hoist(rx(&c.expr), &|inner| {
            Expr::Call(sp(
                ast::Call {
                    expr: inner,
                    args: rargs(&c.args),
                },
                c.span(),
            ))
        }),
        Expr::List(l) => {
            let list = Expr::List(sp(
                ast::List {
                    items: rxs(&l.items),
                },
                l.span(),
            ));
            // `(1, 'a')` is a tuple in Jinja2 and prints as one.
            if starts_with_paren(l.span()) {
                call_global("__py_tuple", vec![list], l.span())
            } else {
                list
            }
        }
        Expr::Map(m) => Expr::Map(sp(
            ast::Map {
                keys: rxs(&m.keys),
                values: rxs(&m.values),
            },
            m.span(),
        )),
    }
}

fn rss<'a>(v: &[Stmt<'a>]) -> Vec<Stmt<'a>> {
    v.iter().map(rs).collect()
}

fn rmacro<'a>(m: &Spanned<ast::Macro<'a>>) -> Spanned<ast::Macro<'a>> {
    sp(
        ast::Macro {
            name: m.name,
            args: rxs(&m.args),
            defaults: rxs(&m.defaults),
            body: rss(&m.body),
        },
        m.span(),
    )
}

/// Rewrite a statement tree.
pub fn rs<'a>(s: &Stmt<'a>) -> Stmt<'a> {
    match s {
        Stmt::Template(t) => Stmt::Template(sp(
            ast::Template {
                children: rss(&t.children),
            },
            t.span(),
        )),
        Stmt::EmitExpr(e) => Stmt::EmitExpr(sp(ast::EmitExpr { expr: rx(&e.expr) }, e.span())),
        Stmt::EmitRaw(r) => Stmt::EmitRaw(sp(ast::EmitRaw { raw: r.raw }, r.span())),
        Stmt::ForLoop(f) => Stmt::ForLoop(sp(
            ast::ForLoop {
                target: target(&f.target),
                iter: rx(&f.iter),
                filter_expr: f.filter_expr.as_ref().map(rx),
                recursive: f.recursive,
                body: rss(&f.body),
                else_body: rss(&f.else_body),
            },
            f.span(),
        )),
        Stmt::IfCond(i) => Stmt::IfCond(sp(
            ast::IfCond {
                expr: rx(&i.expr),
                true_body: rss(&i.true_body),
                false_body: rss(&i.false_body),
            },
            i.span(),
        )),
        Stmt::WithBlock(w) => Stmt::WithBlock(sp(
            ast::WithBlock {
                assignments: w
                    .assignments
                    .iter()
                    .map(|(a, b)| (target(a), rx(b)))
                    .collect(),
                body: rss(&w.body),
            },
            w.span(),
        )),
        Stmt::Set(x) => Stmt::Set(sp(
            ast::Set {
                target: target(&x.target),
                expr: rx(&x.expr),
            },
            x.span(),
        )),
        Stmt::SetBlock(x) => Stmt::SetBlock(sp(
            ast::SetBlock {
                target: target(&x.target),
                filter: x.filter.as_ref().map(rx),
                body: rss(&x.body),
            },
            x.span(),
        )),
        Stmt::AutoEscape(x) => Stmt::AutoEscape(sp(
            ast::AutoEscape {
                enabled: rx(&x.enabled),
                body: rss(&x.body),
            },
            x.span(),
        )),
        Stmt::FilterBlock(x) => Stmt::FilterBlock(sp(
            ast::FilterBlock {
                filter: rx(&x.filter),
                body: rss(&x.body),
            },
            x.span(),
        )),
        Stmt::Block(x) => Stmt::Block(sp(
            ast::Block {
                name: x.name,
                required: x.required,
                body: rss(&x.body),
            },
            x.span(),
        )),
        Stmt::Import(x) => Stmt::Import(sp(
            ast::Import {
                expr: rx(&x.expr),
                name: rx(&x.name),
            },
            x.span(),
        )),
        Stmt::FromImport(x) => Stmt::FromImport(sp(
            ast::FromImport {
                expr: rx(&x.expr),
                names: x
                    .names
                    .iter()
                    .map(|(a, b)| (rx(a), b.as_ref().map(rx)))
                    .collect(),
            },
            x.span(),
        )),
        Stmt::Extends(x) => Stmt::Extends(sp(ast::Extends { name: rx(&x.name) }, x.span())),
        Stmt::Include(x) => Stmt::Include(sp(
            ast::Include {
                name: rx(&x.name),
                ignore_missing: x.ignore_missing,
            },
            x.span(),
        )),
        Stmt::Macro(m) => Stmt::Macro(rmacro(m)),
        Stmt::CallBlock(c) => Stmt::CallBlock(sp(
            ast::CallBlock {
                call: rcall(&c.call),
                macro_decl: rmacro(&c.macro_decl),
            },
            c.span(),
        )),
        Stmt::Continue(c) => Stmt::Continue(sp(ast::Continue, c.span())),
        Stmt::Break(b) => Stmt::Break(sp(ast::Break, b.span())),
        Stmt::Do(d) => Stmt::Do(sp(
            ast::Do {
                call: rcall(&d.call),
            },
            d.span(),
        )),
    }
}
