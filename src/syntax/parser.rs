//! pest pairs to the owned AST. Pairs and rules never leave this module.
//!
//! The file is first cut into items (`split`), each item parsed on its own, so one broken
//! item yields one diagnostic and the rest of the file is still checked. A space whose body
//! fails to parse is parsed again member by member for the same reason.

use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::*;
use super::split::{split_items, split_members};
use crate::diag::{Code, Diagnostic, FileId, Sink, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/nas.pest"]
struct NasParser;

/// Parses one file, pushing syntax errors into `sink`; never panics.
pub fn parse_file(file: FileId, text: &str, sink: &mut Sink) -> File {
    let mut items = Vec::new();
    let ranges = split_items(text);
    // A block comment left open where no item is (at the top, say) hides the rest of the
    // file from every item: nothing would parse, and nothing would be reported.
    if let Some(at) = super::split::unclosed_comment(text) {
        if !ranges.iter().any(|&(s, e)| s <= at && at < e) {
            sink.push(
                Diagnostic::error(
                    Code::Syntax,
                    "unclosed block comment",
                    Span::new(file, at, at + 2),
                    "opened here, never closed",
                )
                .with_help("close it with `*/`: everything after it is part of the comment"),
            );
        }
    }
    for (start, end) in ranges {
        let chunk = &text[start..end];
        if let Some(at) = super::split::too_deep(chunk, MAX_BRACKETS) {
            sink.push(
                Diagnostic::error(
                    Code::Syntax,
                    "the program nests too deeply",
                    Span::new(file, start + at, start + at + 1),
                    format!("more than {MAX_BRACKETS} brackets deep"),
                )
                .with_help("split deeply nested expressions with `let` or functions"),
            );
            continue;
        }
        let ctx = Ctx {
            file,
            offset: start,
            text,
        };
        match NasParser::parse(Rule::item_eoi, chunk) {
            Ok(mut pairs) => {
                if let Some(item) = pairs.next().and_then(|p| p.into_inner().next()) {
                    match ctx.item(item) {
                        Ok(item) => items.push(item),
                        Err(d) => sink.push(*d),
                    }
                }
            }
            Err(err) => {
                if let Some(space) = ctx.recover_space(chunk, sink) {
                    items.push(Item::Space(space));
                } else {
                    sink.push(ctx.syntax_error(&err));
                }
            }
        }
    }
    File { items }
}

struct Ctx<'t> {
    file: FileId,
    offset: usize,
    text: &'t str,
}

type PResult<T> = Result<T, Box<Diagnostic>>;

/// The deepest expression nesting the parser accepts; every later walk over expressions
/// recurses at most this deep.
const MAX_DEPTH: u32 = 100;

/// The deepest bracket nesting the parser attempts (pest and the conversion to the AST
/// recurse several frames per bracket).
const MAX_BRACKETS: usize = 48;

impl Ctx<'_> {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        // Rules that end in an optional part keep the whitespace pest skipped looking for
        // it; labels should stop at the last real character.
        let trimmed = s
            .as_str()
            .trim_end_matches(|c: char| c.is_whitespace() || c == ';')
            .len();
        Span::new(
            self.file,
            self.offset + s.start(),
            self.offset + s.start() + trimmed,
        )
    }

    fn syntax_error(&self, err: &pest::error::Error<Rule>) -> Diagnostic {
        let (start, end) = match err.location {
            pest::error::InputLocation::Pos(p) => (p, p),
            pest::error::InputLocation::Span((a, b)) => (a, b),
        };
        let start = self.offset + start;
        // Point at the offending token rather than at an empty position.
        let rest = &self.text[start.min(self.text.len())..];
        let tok_len = token_len(rest);
        let end = (self.offset + end).max(start + tok_len);
        let found = if tok_len == 0 {
            "end of input".to_string()
        } else {
            format!("`{}`", &self.text[start..end.min(start + tok_len)])
        };
        if rest.starts_with('"') && !rest[1..].split('\n').next().unwrap_or("").contains('"') {
            let end = start + rest.find('\n').unwrap_or(rest.len());
            return Diagnostic::error(
                Code::Syntax,
                "unterminated string",
                Span::new(self.file, start, end),
                "this string has no closing `\"`",
            )
            .with_help("close the string on the same line");
        }
        if let pest::error::ErrorVariant::CustomError { message } = &err.variant {
            if message.contains("stack limit") || message.contains("call limit") {
                return Diagnostic::error(
                    Code::Syntax,
                    "the program nests too deeply",
                    Span::new(self.file, start, end),
                    "nesting limit reached here",
                )
                .with_help("split deeply nested expressions with `let` or functions");
            }
        }
        let expected = match &err.variant {
            pest::error::ErrorVariant::ParsingError { positives, .. } => {
                describe_expected(positives)
            }
            pest::error::ErrorVariant::CustomError { message } => message.clone(),
        };
        Diagnostic::error(
            Code::Syntax,
            format!("unexpected {found}"),
            Span::new(self.file, start, end),
            format!("expected {expected}"),
        )
        .with_help("check the syntax against `grammar/nas.pest` or an example in `examples/`")
    }

    /// Parses a space member by member after the whole space failed to parse.
    fn recover_space(&self, chunk: &str, sink: &mut Sink) -> Option<Space> {
        let SpaceHeader {
            name: name_span,
            body_start,
            body_end,
            unclosed,
        } = split_members_header(chunk)?;
        if let Some(brace) = unclosed {
            let at = self.offset + brace;
            sink.push(
                Diagnostic::error(
                    Code::Syntax,
                    "unclosed `{`",
                    Span::new(self.file, at, at + 1),
                    "this `{` is never closed",
                )
                .with_help("add the matching `}` at the end of the space"),
            );
        } else if !chunk[body_end + 1..].trim().is_empty() {
            let tail = &chunk[body_end + 1..];
            let lead = tail.len() - tail.trim_start().len();
            let at = self.offset + body_end + 1 + lead;
            let text = tail.trim();
            let (msg, help) = if text.starts_with("/*") {
                ("unterminated block comment", "close the comment with `*/`")
            } else {
                (
                    "unexpected text after the space",
                    "remove it, or start a new item (`space`, `fn`, `import`, ...)",
                )
            };
            let end = at + text.lines().next().map_or(0, str::len);
            sink.push(
                Diagnostic::error(
                    Code::Syntax,
                    msg,
                    Span::new(self.file, at, end),
                    "not part of any item",
                )
                .with_help(help),
            );
        }
        let name = Ident {
            name: chunk[name_span.0..name_span.1].to_string(),
            span: Span::new(
                self.file,
                self.offset + name_span.0,
                self.offset + name_span.1,
            ),
        };
        let mut members = Vec::new();
        let mut broken = Vec::new();
        for (s, e) in split_members(chunk, body_start, body_end) {
            let ctx = Ctx {
                file: self.file,
                offset: self.offset + s,
                text: self.text,
            };
            match NasParser::parse(Rule::member_eoi, &chunk[s..e]) {
                Ok(mut pairs) => {
                    if let Some(m) = pairs.next().and_then(|p| p.into_inner().next()) {
                        match ctx.member(m) {
                            Ok(m) => members.push(m),
                            Err(d) => sink.push(*d),
                        }
                    }
                }
                Err(err) => {
                    sink.push(ctx.syntax_error(&err));
                    broken.push(broken_member(&chunk[s..e], self.file, self.offset + s));
                }
            }
        }
        Some(Space {
            name,
            members,
            broken: Some(broken.into_iter().flatten().collect()),
            span: Span::new(self.file, self.offset, self.offset + chunk.len()),
        })
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn item(&self, pair: Pair<'_, Rule>) -> PResult<Item> {
        let span = self.span(&pair);
        Ok(match pair.as_rule() {
            Rule::import_item => Item::Import(self.import(pair)?),
            Rule::space_item => {
                let mut inner = pair.into_inner();
                inner.next(); // `space`
                let name = self.ident(next(&mut inner));
                let members = inner.map(|m| self.member(m)).collect::<PResult<Vec<_>>>()?;
                Item::Space(Space {
                    name,
                    members,
                    broken: None,
                    span,
                })
            }
            Rule::fn_item => Item::Fn(self.fn_def(pair)?),
            Rule::builtin_item => Item::Builtin(self.builtin(pair)?),
            Rule::enum_item => Item::Enum(self.enum_def(pair)?),
            _ => Item::Config(self.config(pair)?),
        })
    }

    fn import(&self, pair: Pair<'_, Rule>) -> PResult<Import> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        inner.next(); // `import`
        let path = next(&mut inner)
            .into_inner()
            .map(|p| self.ident(p))
            .collect();
        let list = next(&mut inner);
        let names = match list.as_rule() {
            Rule::import_all => None,
            _ => Some(
                list.into_inner()
                    .map(|n| {
                        let mut parts = n.into_inner();
                        let name = self.ident(next(&mut parts));
                        let alias = parts.nth(1).map(|p| self.ident(p));
                        (name, alias)
                    })
                    .collect(),
            ),
        };
        Ok(Import { path, names, span })
    }

    fn member(&self, pair: Pair<'_, Rule>) -> PResult<Member> {
        Ok(match pair.as_rule() {
            Rule::param_decl => {
                let span = self.span(&pair);
                let mut inner = pair.into_inner();
                inner.next();
                let name = self.ident(next(&mut inner));
                let mut ty = None;
                let mut domain = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::type_expr => ty = Some(self.type_expr(p)),
                        _ => domain = Some(self.expr(p)?),
                    }
                }
                Member::Param(Param {
                    name,
                    ty,
                    domain: domain.ok_or_else(|| self.internal(span))?,
                    span,
                })
            }
            Rule::let_decl => Member::Let(self.let_decl(pair)?),
            Rule::require_decl => Member::Require(self.require(pair)?),
            Rule::graph_decl => {
                let span = self.span(&pair);
                let body = self.block(
                    pair.into_inner()
                        .nth(1)
                        .ok_or_else(|| self.internal(span))?,
                )?;
                Member::Graph(GraphDef { body, span })
            }
            _ => Member::Config(self.config(pair)?),
        })
    }

    fn internal(&self, span: Span) -> Box<Diagnostic> {
        Box::new(
            Diagnostic::error(
                Code::Syntax,
                "the parser could not read this construct",
                span,
                "here",
            )
            .with_help("this is a bug in nasc; please report it with this file"),
        )
    }

    fn let_decl(&self, pair: Pair<'_, Rule>) -> PResult<Let> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        inner.next();
        let name = self.ident(next(&mut inner));
        let mut ty = None;
        let mut value = None;
        for p in inner {
            match p.as_rule() {
                Rule::type_expr => ty = Some(self.type_expr(p)),
                _ => value = Some(self.expr(p)?),
            }
        }
        Ok(Let {
            name,
            ty,
            value: value.ok_or_else(|| self.internal(span))?,
            span,
        })
    }

    fn require(&self, pair: Pair<'_, Rule>) -> PResult<Require> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        inner.next();
        let cond = self.expr(next(&mut inner))?;
        let message = inner
            .find(|p| p.as_rule() == Rule::string)
            .map(|p| unescape(p.as_str()));
        Ok(Require {
            cond,
            message,
            span,
        })
    }

    fn type_expr(&self, pair: Pair<'_, Rule>) -> TypeExpr {
        TypeExpr {
            name: pair.as_str().trim().to_string(),
            span: self.span(&pair),
        }
    }

    fn params(&self, pair: Pair<'_, Rule>) -> PResult<Vec<FnParam>> {
        pair.into_inner()
            .map(|p| {
                let mut inner = p.into_inner();
                let name = self.ident(next(&mut inner));
                let ty = self.type_expr(next(&mut inner));
                let default = inner.next().map(|e| self.expr(e)).transpose()?;
                Ok(FnParam { name, ty, default })
            })
            .collect()
    }

    fn doc(&self, span: Span) -> Option<String> {
        doc_comment(self.text, span.start)
    }

    fn fn_def(&self, pair: Pair<'_, Rule>) -> PResult<FnDef> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        inner.next();
        let name = self.ident(next(&mut inner));
        let mut params = Vec::new();
        let mut ret = None;
        let mut body = None;
        for p in inner {
            match p.as_rule() {
                Rule::param_list => params = self.params(p)?,
                Rule::type_expr => ret = Some(self.type_expr(p)),
                _ => body = Some(self.block(p)?),
            }
        }
        Ok(FnDef {
            name,
            params,
            ret,
            body: body.ok_or_else(|| self.internal(span))?,
            doc: self.doc(span),
            span,
        })
    }

    fn builtin(&self, pair: Pair<'_, Rule>) -> PResult<Builtin> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        inner.next();
        let kind = match next(&mut inner).as_str() {
            "module" => BuiltinKind::Module,
            "strategy" => BuiltinKind::Strategy,
            "optimizer" => BuiltinKind::Optimizer,
            "dataset" => BuiltinKind::Dataset,
            _ => BuiltinKind::Metric,
        };
        let name = self.ident(next(&mut inner));
        let mut b = Builtin {
            kind,
            name,
            params: Vec::new(),
            ty: None,
            is_static: false,
            out_width: None,
            requires: Vec::new(),
            doc: self.doc(span),
            span,
        };
        for p in inner {
            match p.as_rule() {
                Rule::builtin_sig => {
                    for s in p.into_inner() {
                        match s.as_rule() {
                            Rule::param_list => b.params = self.params(s)?,
                            Rule::type_expr => b.ty = Some(self.type_expr(s)),
                            _ => b.is_static = s.as_str() == "static",
                        }
                    }
                }
                Rule::builtin_body => {
                    b.requires = p
                        .into_inner()
                        .map(|r| self.require(r))
                        .collect::<PResult<_>>()?;
                }
                _ => b.out_width = Some(self.expr(p)?),
            }
        }
        Ok(b)
    }

    fn enum_def(&self, pair: Pair<'_, Rule>) -> PResult<EnumDef> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        inner.next();
        let name = self.ident(next(&mut inner));
        let variants = inner
            .map(|v| {
                let mut parts = v.into_inner();
                let name = self.ident(next(&mut parts));
                let params = parts
                    .next()
                    .map(|p| self.params(p))
                    .transpose()?
                    .unwrap_or_default();
                Ok(Variant { name, params })
            })
            .collect::<PResult<_>>()?;
        Ok(EnumDef {
            name,
            variants,
            doc: self.doc(span),
            span,
        })
    }

    fn config(&self, pair: Pair<'_, Rule>) -> PResult<Config> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        inner.next(); // the keyword
        Ok(match rule {
            Rule::data_decl => Config::Data(self.expr(next(&mut inner))?, span),
            Rule::train_decl => {
                let fields = next(&mut inner)
                    .into_inner()
                    .map(|f| {
                        let mut parts = f.into_inner();
                        let name = self.ident(next(&mut parts));
                        let value = self.expr(next(&mut parts))?;
                        Ok(Field { name, value })
                    })
                    .collect::<PResult<_>>()?;
                Config::Train(fields, span)
            }
            Rule::objective_decl => Config::Objective(
                inner
                    .map(|g| {
                        let mut parts = g.into_inner();
                        let direction = if next(&mut parts).as_str().starts_with("min") {
                            Direction::Minimize
                        } else {
                            Direction::Maximize
                        };
                        let metric = self.ident(next(&mut parts));
                        let weight = match parts.next() {
                            Some(w) => {
                                let mut w = w.into_inner();
                                next(&mut w); // `weight`
                                let num = next(&mut w);
                                let nspan = self.span(&num);
                                let value = parse_float(&num.as_str().replace('_', ""))
                                    .ok_or_else(|| self.bad_number(nspan))?;
                                Some((value, nspan))
                            }
                            None => None,
                        };
                        Ok(Goal {
                            direction,
                            metric,
                            weight,
                        })
                    })
                    .collect::<PResult<_>>()?,
                span,
            ),
            _ => Config::Pipeline(inner.map(|s| self.stage(s)).collect::<PResult<_>>()?, span),
        })
    }

    fn stage(&self, pair: Pair<'_, Rule>) -> PResult<Stage> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let strategy = self.ident(next(&mut inner));
        let args = self.args(next(&mut inner))?;
        let filter = match inner.next() {
            None => None,
            Some(f) => {
                let mut parts = f.into_inner();
                parts.next(); // `keep`
                let kind = next(&mut parts);
                let kspan = self.span(&kind);
                let mut k = kind.clone().into_inner();
                Some(match kind.as_rule() {
                    Rule::keep_top => {
                        let n = self.expr(next(&mut k))?;
                        Filter::Top(n, self.ident(next(&mut k)))
                    }
                    Rule::keep_pareto => Filter::Pareto(kspan),
                    Rule::keep_best => Filter::Best(k.next().map(|p| self.ident(p)), kspan),
                    Rule::keep_fraction => {
                        let num = next(&mut k);
                        let nspan = self.span(&num);
                        let value =
                            parse_float(num.as_str()).ok_or_else(|| self.bad_number(nspan))?;
                        Filter::Fraction(value, nspan, self.ident(next(&mut k)))
                    }
                    _ => Filter::Where(self.expr(next(&mut k))?),
                })
            }
        };
        Ok(Stage {
            strategy,
            args,
            filter,
            span,
        })
    }

    fn bad_number(&self, span: Span) -> Box<Diagnostic> {
        Box::new(
            Diagnostic::error(
                Code::BadNumber,
                "invalid number literal",
                span,
                "this number does not fit in 64 bits",
            )
            .with_help("integers must lie within ±9.2e18; use a float for larger values"),
        )
    }

    fn args(&self, pair: Pair<'_, Rule>) -> PResult<Vec<Arg>> {
        pair.into_inner()
            .map(|a| {
                let a = a
                    .into_inner()
                    .next()
                    .ok_or_else(|| self.internal(Span::default()))?;
                if a.as_rule() == Rule::named_arg {
                    let mut parts = a.into_inner();
                    let name = self.ident(next(&mut parts));
                    Ok(Arg {
                        name: Some(name),
                        value: self.expr(next(&mut parts))?,
                    })
                } else {
                    Ok(Arg {
                        name: None,
                        value: self.expr(a)?,
                    })
                }
            })
            .collect()
    }

    fn block(&self, pair: Pair<'_, Rule>) -> PResult<Expr> {
        let span = self.span(&pair);
        let stmts = pair
            .into_inner()
            .map(|s| {
                Ok(match s.as_rule() {
                    Rule::let_decl => Stmt::Let(self.let_decl(s)?),
                    Rule::require_decl => Stmt::Require(self.require(s)?),
                    _ => Stmt::Expr(self.expr(s)?),
                })
            })
            .collect::<PResult<_>>()?;
        Ok(Expr::new(ExprKind::Block(stmts), span))
    }

    /// Folds `operand (op operand)*` left-associatively.
    fn binary_chain(&self, pair: Pair<'_, Rule>) -> PResult<Expr> {
        let mut inner = pair.into_inner();
        let mut lhs = self.expr(next(&mut inner))?;
        while let Some(op) = inner.next() {
            let op = match op.as_str().trim() {
                ">>" => BinOp::Seq,
                "or" => BinOp::Or,
                "and" => BinOp::And,
                "==" => BinOp::Eq,
                "!=" => BinOp::Ne,
                "<" => BinOp::Lt,
                "<=" => BinOp::Le,
                ">" => BinOp::Gt,
                ">=" => BinOp::Ge,
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "*" => BinOp::Mul,
                "/" => BinOp::Div,
                _ => BinOp::Rem,
            };
            let rhs = self.expr(next(&mut inner))?;
            let span = lhs.span.to(rhs.span);
            if lhs.depth >= MAX_DEPTH {
                return Err(Box::new(
                    Diagnostic::error(
                        Code::Syntax,
                        "the expression is too long",
                        span,
                        format!("more than {MAX_DEPTH} operands in a row"),
                    )
                    .with_help(
                        "split it with `let`, or write graph modules as separate statements",
                    ),
                ));
            }
            lhs = Expr::new(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span);
        }
        Ok(lhs)
    }

    /// Converts an expression pair, refusing nesting deeper than [`MAX_DEPTH`].
    fn expr(&self, pair: Pair<'_, Rule>) -> PResult<Expr> {
        let e = self.expr_raw(pair)?;
        if e.depth > MAX_DEPTH {
            return Err(Box::new(
                Diagnostic::error(
                    Code::Syntax,
                    "the program nests too deeply",
                    e.span,
                    format!("more than {MAX_DEPTH} levels deep"),
                )
                .with_help("split deeply nested expressions with `let` or functions"),
            ));
        }
        Ok(e)
    }

    fn expr_raw(&self, pair: Pair<'_, Rule>) -> PResult<Expr> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::expr
            | Rule::or_expr
            | Rule::and_expr
            | Rule::cmp_expr
            | Rule::add_expr
            | Rule::mul_expr => return self.binary_chain(pair),
            Rule::not_expr | Rule::unary => {
                let parts: Vec<_> = pair.into_inner().collect();
                let (ops, operand) = parts.split_at(parts.len().saturating_sub(1));
                let mut e = self.expr(
                    operand
                        .first()
                        .cloned()
                        .ok_or_else(|| self.internal(span))?,
                )?;
                if ops.len() as u32 >= MAX_DEPTH {
                    return Err(Box::new(
                        Diagnostic::error(
                            Code::Syntax,
                            "the program nests too deeply",
                            span,
                            format!("more than {MAX_DEPTH} prefix operators"),
                        )
                        .with_help("remove the repeated `-` or `not`"),
                    ));
                }
                for op in ops.iter().rev() {
                    let op_span = self.span(op);
                    let un = if op.as_rule() == Rule::neg {
                        UnOp::Neg
                    } else {
                        UnOp::Not
                    };
                    // Fold `-` into number literals so that `-9223372036854775808` and
                    // `choice(-1, 1)` print as written.
                    e = match (un, e.kind) {
                        (UnOp::Neg, ExprKind::Int(v)) => {
                            Expr::new(ExprKind::Int(-v), op_span.to(e.span))
                        }
                        (UnOp::Neg, ExprKind::Float(v)) => {
                            Expr::new(ExprKind::Float(-v), op_span.to(e.span))
                        }
                        (_, kind) => {
                            let inner = Expr::new(kind, e.span);
                            {
                                let span = op_span.to(inner.span);
                                Expr::new(ExprKind::Unary(un, Box::new(inner)), span)
                            }
                        }
                    };
                }
                return Ok(e);
            }
            Rule::postfix => {
                let mut inner = pair.into_inner();
                let mut e = self.expr(next(&mut inner))?;
                for suffix in inner {
                    let sspan = self.span(&suffix);
                    let full = e.span.to(sspan);
                    e = match suffix.as_rule() {
                        Rule::call_args => {
                            Expr::new(ExprKind::Call(Box::new(e), self.args(suffix)?), full)
                        }
                        _ => {
                            let name = self.ident(next(&mut suffix.into_inner()));
                            Expr::new(ExprKind::Member(Box::new(e), name), full)
                        }
                    };
                }
                return Ok(e);
            }
            Rule::number => return self.number(&pair),
            Rule::string => ExprKind::Str(unescape(pair.as_str())),
            Rule::bool_lit => ExprKind::Bool(pair.as_str() == "true"),
            Rule::ident => ExprKind::Name(self.ident(pair)),
            Rule::data_ref => ExprKind::Data,
            Rule::paren | Rule::repeat_count => return self.expr(next(&mut pair.into_inner())),
            Rule::block => return self.block(pair),
            Rule::if_expr => {
                let mut inner = pair.into_inner();
                inner.next();
                let cond = self.expr(next(&mut inner))?;
                let then = self.expr(next(&mut inner))?;
                let other = inner
                    .find(|p| p.as_rule() != Rule::kw_else)
                    .map(|p| self.expr(p))
                    .transpose()?;
                ExprKind::If(Box::new(cond), Box::new(then), other.map(Box::new))
            }
            Rule::repeat_expr => {
                let mut inner = pair.into_inner();
                inner.next();
                let count = self.expr(next(&mut inner))?;
                let body = self.expr(next(&mut inner))?;
                ExprKind::Repeat(Box::new(count), Box::new(body))
            }
            Rule::optional_expr => {
                let mut inner = pair.into_inner();
                inner.next();
                ExprKind::Optional(Box::new(self.expr(next(&mut inner))?))
            }
            Rule::residual_expr => {
                let mut inner = pair.into_inner();
                inner.next();
                ExprKind::Residual(Box::new(self.expr(next(&mut inner))?))
            }
            _ => return Err(self.internal(span)),
        };
        Ok(Expr::new(kind, span))
    }

    fn number(&self, pair: &Pair<'_, Rule>) -> PResult<Expr> {
        let span = self.span(pair);
        let text: String = pair.as_str().chars().filter(|c| *c != '_').collect();
        let (digits, scale) = match text.chars().last() {
            Some('K') => (&text[..text.len() - 1], 1_000i64),
            Some('M') => (&text[..text.len() - 1], 1_000_000),
            Some('G') => (&text[..text.len() - 1], 1_000_000_000),
            _ => (text.as_str(), 1),
        };
        let is_float = digits.contains(['.', 'e', 'E']);
        let kind = if !is_float {
            let v = digits
                .parse::<i64>()
                .ok()
                .and_then(|v| v.checked_mul(scale))
                .ok_or_else(|| self.bad_number(span))?;
            ExprKind::Int(v)
        } else {
            let v = parse_float(digits).ok_or_else(|| self.bad_number(span))? * scale as f64;
            if scale > 1 && v.fract() == 0.0 && v.abs() < 9.0e18 {
                ExprKind::Int(v as i64)
            } else {
                ExprKind::Float(v)
            }
        };
        Ok(Expr::new(kind, span))
    }
}

fn parse_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn next<'i>(pairs: &mut pest::iterators::Pairs<'i, Rule>) -> Pair<'i, Rule> {
    // The grammar guarantees every child this module asks for; an absent one can only
    // come from a grammar change that forgot the parser, which the tests catch.
    pairs
        .next()
        .unwrap_or_else(|| unreachable!("grammar and parser disagree"))
}

/// Removes the quotes and resolves `\"`, `\\`, `\n` and `\t`.
fn unescape(lit: &str) -> String {
    let body = lit.get(1..lit.len().saturating_sub(1)).unwrap_or("");
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The length of the token starting `rest`, for pointing at it in an error.
fn token_len(rest: &str) -> usize {
    let mut chars = rest.char_indices();
    match chars.next() {
        None => 0,
        Some((_, c)) if c.is_ascii_alphanumeric() || c == '_' => rest
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map_or(rest.len(), |(i, _)| i),
        Some((_, c)) => c.len_utf8(),
    }
}

/// The `///` comment lines right above byte `start`, joined.
fn doc_comment(text: &str, start: usize) -> Option<String> {
    let before = text.get(..start)?;
    let mut lines: Vec<&str> = Vec::new();
    for line in before.lines().rev() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("///") {
            lines.push(rest.trim());
        } else if t.is_empty() && lines.is_empty() {
            // The item's own line starts right at `start`; its prefix is blank.
            continue;
        } else {
            break;
        }
    }
    if lines.is_empty() {
        None
    } else {
        lines.reverse();
        Some(lines.join("\n"))
    }
}

/// Describes pest's expected rules in words.
fn describe_expected(rules: &[Rule]) -> String {
    let mut words: Vec<&str> = rules
        .iter()
        .map(|r| rule_name(*r))
        .filter(|w| !w.is_empty())
        .collect();
    words.sort_unstable();
    words.dedup();
    match words.len() {
        0 => "something else".to_string(),
        1 => words[0].to_string(),
        n if n > 6 => format!("{}, ...", words[..5].join(", ")),
        _ => {
            let last = words.pop().unwrap_or_default();
            format!("{} or {}", words.join(", "), last)
        }
    }
}

fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of input",
        Rule::ident => "a name",
        Rule::expr
        | Rule::or_expr
        | Rule::and_expr
        | Rule::not_expr
        | Rule::cmp_expr
        | Rule::add_expr
        | Rule::mul_expr
        | Rule::unary
        | Rule::postfix
        | Rule::repeat_count => "an expression",
        Rule::number => "a number",
        Rule::string => "a string",
        Rule::type_expr => "a type",
        Rule::block => "a block `{ ... }`",
        Rule::call_args => "arguments `(...)`",
        Rule::arg | Rule::named_arg => "an argument",
        Rule::cmp_op => "a comparison",
        Rule::add_op | Rule::mul_op | Rule::seq_op => "an operator",
        Rule::member => "`.`",
        Rule::param_list | Rule::fn_param => "a parameter",
        Rule::import_list | Rule::import_all => "`{ names }` or `*`",
        Rule::import_name => "a name to import",
        Rule::module_path => "a module path",
        Rule::record | Rule::field => "a field `name = value`",
        Rule::goal | Rule::direction | Rule::kw_minimize | Rule::kw_maximize => {
            "`minimize` or `maximize`"
        }
        Rule::goal_weight | Rule::kw_weight => "`weight`",
        Rule::stage => "a pipeline stage",
        Rule::filter | Rule::kw_keep => "`|> keep ...`",
        Rule::variant => "an enum variant",
        Rule::param_decl | Rule::kw_param => "`param`",
        Rule::let_decl | Rule::kw_let => "`let`",
        Rule::require_decl | Rule::kw_require => "`require`",
        Rule::graph_decl | Rule::kw_graph => "`graph`",
        Rule::builtin_kind => "`module`, `strategy`, `optimizer`, `dataset` or `metric`",
        Rule::kw_else => "`else`",
        Rule::kw_as => "`as`",
        Rule::import_item
        | Rule::space_item
        | Rule::fn_item
        | Rule::builtin_item
        | Rule::enum_item
        | Rule::kw_import
        | Rule::kw_space
        | Rule::kw_fn
        | Rule::kw_builtin
        | Rule::kw_enum => "an item (`space`, `fn`, `import`, ...)",
        Rule::kw_and | Rule::kw_or => "`and` or `or`",
        Rule::item_eoi | Rule::file => "an item (`space`, `fn`, `import`, ...)",
        Rule::member_eoi => "a member (`param`, `let`, `require`, `graph`, ...)",
        Rule::kw_data
        | Rule::kw_train
        | Rule::kw_objective
        | Rule::kw_pipeline
        | Rule::data_decl
        | Rule::train_decl
        | Rule::objective_decl
        | Rule::pipeline_decl => "a configuration block",
        _ => "",
    }
}

/// The name a member that failed to parse would have defined (`param x ...`), so that
/// its uses do not cascade into unknown-name errors.
fn broken_member(text: &str, file: FileId, offset: usize) -> Option<Ident> {
    let rest = text
        .strip_prefix("param")
        .or_else(|| text.strip_prefix("let"))?;
    let lead = rest.len() - rest.trim_start().len();
    let name: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        return None;
    }
    let start = offset + (text.len() - rest.len()) + lead;
    Some(Ident {
        span: Span::new(file, start, start + name.len()),
        name,
    })
}

/// Finds `space NAME {` in a chunk: the name's range and the body's inner range.
/// Where the parts of `space NAME { ... }` lie in a chunk.
struct SpaceHeader {
    /// The name's byte range.
    name: (usize, usize),
    /// The first byte of the body.
    body_start: usize,
    /// The closing brace (or the chunk's end when there is none).
    body_end: usize,
    /// The opening brace, when it is never closed.
    unclosed: Option<usize>,
}

fn split_members_header(chunk: &str) -> Option<SpaceHeader> {
    let rest = chunk.strip_prefix("space")?;
    let name_start = 5 + (rest.len() - rest.trim_start().len());
    let name_len = chunk[name_start..]
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(chunk.len() - name_start, |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let after = name_start + name_len;
    let brace = after + chunk[after..].find('{')?;
    if !chunk[after..brace].trim().is_empty() {
        return None;
    }
    let close = super::split::matching_close(chunk, brace);
    Some(SpaceHeader {
        name: (name_start, after),
        body_start: brace + 1,
        body_end: close.unwrap_or(chunk.len()),
        unclosed: close.is_none().then_some(brace),
    })
}
