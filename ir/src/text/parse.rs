//! The parser: text form in, verified [`Graph`] out; every error carries its line number.
//!
//! A line is empty, a comment, a node or an output:
//!
//! ```text
//! %a[, %b...] = op [operand, ...] [{key = value, ...}] : type[, type...] ["debug name"]
//! output %a "name"
//! ```
//!
//! An operand is a value defined on an earlier line, or the quoted name of an `input` or
//! `weight`. Value names are `%` plus letters, digits, `_` or `.`; the printer uses numbers but
//! hand-written tests may say `%x`. Attribute values are integers, floats (`1e-6`, `inf`, `NaN`),
//! `true`/`false`, strings and shapes (`[t, 64]`). Nodes are added in file order, then the graph
//! is verified and a defect is reported at its node's line.

use std::collections::HashMap;

use super::lex::{tokenize, Tok};
use super::parts::op_from_parts;
use crate::verify::{check, Site};
use crate::{Attr, DType, Dim, Graph, IrError, Node, NodeId, Op, Shape, Sym, TensorType, Value};

/// Parses the text form and verifies the graph.
pub fn parse(s: &str) -> Result<Graph, IrError> {
    let mut p = Parser::default();
    for (i, text) in s.lines().enumerate() {
        p.line(text, i + 1).map_err(|msg| IrError::Parse { line: i + 1, msg })?;
    }
    p.finish()
}

#[derive(Default)]
struct Parser {
    g: Graph,
    values: HashMap<String, Value>,
    node_lines: HashMap<NodeId, usize>,
    output_lines: Vec<usize>,
}

impl Parser {
    fn line(&mut self, text: &str, line: usize) -> Result<(), String> {
        let toks = tokenize(text)?;
        let mut c = Cursor { toks: &toks, pos: 0 };
        match c.peek() {
            None => Ok(()),
            Some(Tok::Word(w)) if w == "output" => self.output(&mut c, line),
            Some(Tok::Value(_)) => self.node(&mut c, line),
            Some(_) => Err(format!(
                "expected `%value = op ...` or `output %value \"name\"`, found {}",
                c.found()
            )),
        }
    }

    fn output(&mut self, c: &mut Cursor, line: usize) -> Result<(), String> {
        c.next();
        let v = self.lookup(&c.value()?)?;
        let name = c.string("the output's name")?;
        c.end()?;
        self.g.output(v, &name);
        self.output_lines.push(line);
        Ok(())
    }

    fn node(&mut self, c: &mut Cursor, line: usize) -> Result<(), String> {
        let names = c.list(Cursor::value)?;
        c.expect('=')?;
        let op_name = c.word("an op name")?;
        let (operands, label) = self.args(c)?;
        let mut attrs = if c.eat('{') { attrs(c)? } else { vec![] };
        let results = c.list(ty)?;
        let debug = if let Some(Tok::Str(_)) = c.peek() {
            Some(c.string("a debug name")?)
        } else {
            None
        };
        c.end()?;
        match (op_name.as_str(), label) {
            ("input" | "weight", Some(label)) => attrs.push(("name".into(), Attr::Str(label))),
            ("input" | "weight", None) => return Err(format!("{op_name} needs a quoted name: `{op_name} \"x\"`")),
            (_, Some(_)) => return Err(format!("{op_name} takes no quoted name")),
            (_, None) => {}
        }
        let op = op_from_parts(&op_name, &attrs)?;
        check_counts(&op, names.len(), results.len())?;
        let id = self.g.add_node(
            Node {
                op,
                results,
                name: debug,
            },
            &operands,
        );
        self.node_lines.insert(id, line);
        self.define(&names, id)
    }

    /// The operands up to `{` or `:` (consumed): values, or one quoted name.
    fn args(&self, c: &mut Cursor) -> Result<(Vec<Value>, Option<String>), String> {
        let (mut vals, mut label) = (vec![], None);
        if c.eat(':') {
            return Ok((vals, label));
        }
        loop {
            match c.next() {
                Some(Tok::Value(v)) => vals.push(self.lookup(v)?),
                Some(Tok::Str(s)) if label.is_none() => label = Some(s.clone()),
                Some(Tok::Str(_)) => return Err("more than one quoted name".into()),
                Some(Tok::Punct('{')) if vals.is_empty() && label.is_none() => {
                    c.pos -= 1;
                    return Ok((vals, label));
                }
                _ => return Err(format!("expected an operand, found {}", c.found_prev())),
            }
            match c.next() {
                Some(Tok::Punct(',')) => {}
                Some(Tok::Punct(':')) => return Ok((vals, label)),
                Some(Tok::Punct('{')) => {
                    c.pos -= 1;
                    return Ok((vals, label));
                }
                _ => {
                    return Err(format!(
                        "expected `,`, `{{` or `:` after an operand, found {}",
                        c.found_prev()
                    ))
                }
            }
        }
    }

    fn lookup(&self, name: &str) -> Result<Value, String> {
        self.values
            .get(name)
            .copied()
            .ok_or_else(|| format!("`%{name}` is not defined on an earlier line"))
    }

    fn define(&mut self, names: &[String], id: NodeId) -> Result<(), String> {
        for (i, name) in names.iter().enumerate() {
            if self.values.contains_key(name) || names[..i].contains(name) {
                return Err(format!("`%{name}` is defined twice"));
            }
            self.values.insert(
                name.clone(),
                Value {
                    node: id,
                    index: i as u32,
                },
            );
        }
        Ok(())
    }

    /// Verifies the graph, reporting a defect at the line of its node or output.
    fn finish(self) -> Result<Graph, IrError> {
        match check(&self.g) {
            Ok(()) => Ok(self.g),
            Err(d) => {
                let line = match d.site {
                    Site::Node(id) => self.node_lines.get(&id).copied().unwrap_or(0),
                    Site::Output(i) => self.output_lines.get(i).copied().unwrap_or(0),
                };
                Err(IrError::Parse { line, msg: d.msg })
            }
        }
    }
}

fn check_counts(op: &Op, names: usize, types: usize) -> Result<(), String> {
    let want = op.num_results();
    if names != want {
        return Err(format!("{} defines {want} value(s), the line names {names}", op.name()));
    }
    if types != want {
        return Err(format!(
            "{} has {want} result type(s), the line gives {types}",
            op.name()
        ));
    }
    Ok(())
}

/// `key = value, ...}` after the `{`, then the `:` that must follow.
fn attrs(c: &mut Cursor) -> Result<Vec<(String, Attr)>, String> {
    let mut out = vec![];
    if !c.eat('}') {
        loop {
            let key = c.word("an attribute name")?;
            c.expect('=')?;
            out.push((key, attr_value(c)?));
            if c.eat('}') {
                break;
            }
            c.expect(',')?;
        }
    }
    c.expect(':')?;
    Ok(out)
}

fn attr_value(c: &mut Cursor) -> Result<Attr, String> {
    match c.next() {
        Some(Tok::Str(s)) => Ok(Attr::Str(s.clone())),
        Some(Tok::Punct('[')) => Ok(Attr::Shape(shape_rest(c)?)),
        Some(Tok::Word(w)) if w == "true" => Ok(Attr::Bool(true)),
        Some(Tok::Word(w)) if w == "false" => Ok(Attr::Bool(false)),
        Some(Tok::Word(w) | Tok::Num(w)) => number(w),
        _ => Err(format!("expected an attribute value, found {}", c.found_prev())),
    }
}

/// An integer if it reads as one, else a float.
fn number(w: &str) -> Result<Attr, String> {
    if let Ok(n) = w.parse::<usize>() {
        return Ok(Attr::Int(n));
    }
    w.parse::<f32>()
        .map(Attr::Float)
        .map_err(|_| format!("`{w}` is not a number"))
}

/// `f32[t, 64]`.
fn ty(c: &mut Cursor) -> Result<TensorType, String> {
    let name = c.word("a type like `f32[t, 64]`")?;
    let dtype = DType::from_name(&name).ok_or_else(|| format!("unknown dtype `{name}`"))?;
    c.expect('[')?;
    Ok(TensorType::new(dtype, shape_rest(c)?))
}

/// The dims and `]` of a shape whose `[` was consumed.
fn shape_rest(c: &mut Cursor) -> Result<Shape, String> {
    let mut dims = vec![];
    if c.eat(']') {
        return Ok(Shape(dims));
    }
    loop {
        dims.push(match c.next() {
            Some(Tok::Num(n)) => Dim::Const(n.parse().map_err(|_| format!("`{n}` is not a dimension"))?),
            Some(Tok::Word(w)) => Dim::Sym(Sym::from_name(w).ok_or_else(|| format!("unknown dimension symbol `{w}`"))?),
            _ => return Err(format!("expected a dimension, found {}", c.found_prev())),
        });
        if c.eat(']') {
            return Ok(Shape(dims));
        }
        c.expect(',')?;
    }
}

/// The tokens of one line and a position in them.
struct Cursor<'a> {
    toks: &'a [Tok],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<&'a Tok> {
        let t = self.toks.get(self.pos);
        self.pos += 1;
        t
    }

    /// The next token, for an error message.
    fn found(&self) -> String {
        self.peek().map_or("the end of the line".into(), Tok::describe)
    }

    /// The token just consumed, for an error message.
    fn found_prev(&self) -> String {
        self.toks
            .get(self.pos.wrapping_sub(1))
            .map_or("the end of the line".into(), Tok::describe)
    }

    fn eat(&mut self, p: char) -> bool {
        let hit = self.peek() == Some(&Tok::Punct(p));
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, p: char) -> Result<(), String> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(format!("expected `{p}`, found {}", self.found()))
        }
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Value(v)) => Ok(v.clone()),
            _ => Err(format!("expected a `%value`, found {}", self.found_prev())),
        }
    }

    fn word(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w.clone()),
            _ => Err(format!("expected {what}, found {}", self.found_prev())),
        }
    }

    fn string(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s.clone()),
            _ => Err(format!("expected {what} in quotes, found {}", self.found_prev())),
        }
    }

    /// One or more `item`s separated by `,`.
    fn list<T>(&mut self, item: impl Fn(&mut Self) -> Result<T, String>) -> Result<Vec<T>, String> {
        let mut out = vec![item(self)?];
        while self.eat(',') {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// Fails on trailing tokens.
    fn end(&self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(format!("unexpected {} at the end of the line", t.describe())),
        }
    }
}
