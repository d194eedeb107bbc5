//! The parser rejects bad text with the right line number and a message that says what is
//! wrong, and never panics on mangled input.

mod common;

use common::{every_op_canonical, EVERY_OP};
use lingot_ir::{parse, print, IrError};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

const HEAD: &str = "%0 = input \"x\" : f32[t, 4]\n%1 = weight \"b\" : f32[4]\n";

/// Parses `HEAD` + `body` and expects an error on line `2 + line` containing `msg`.
fn rejects(body: &str, line: usize, msg: &str) {
    let text = format!("{HEAD}{body}");
    match parse(&text) {
        Err(IrError::Parse { line: l, msg: m }) => {
            assert_eq!(l, 2 + line, "wrong line for {body:?}: {m}");
            assert!(m.contains(msg), "message {m:?} for {body:?} should contain {msg:?}");
        }
        other => panic!("{body:?} should fail with {msg:?}, got {other:?}"),
    }
}

#[test]
fn head_alone_parses() {
    assert!(parse(HEAD).is_ok());
}

#[test]
fn unknown_op() {
    rejects("%2 = frobnicate %0 : f32[t, 4]", 1, "unknown op `frobnicate`");
}

#[test]
fn attribute_errors() {
    rejects("%2 = silu %0 {k = 1} : f32[t, 4]", 1, "unknown attribute `k`");
    rejects("%2 = top_k %0 : i32[t, 2]", 1, "missing attribute `k`");
    rejects("%2 = top_k %0 {k = 1, k = 2} : i32[t, 1]", 1, "`k` given twice");
    rejects(
        "%2 = top_k %0 {k = true} : i32[t, 1]",
        1,
        "`k` must be a non-negative integer",
    );
    rejects(
        "%2 = top_k %0 {k = -1} : i32[t, 1]",
        1,
        "`k` must be a non-negative integer",
    );
    rejects(
        "%2 = scale %0 {factor = 1.2.3, bias = 0} : f32[t, 4]",
        1,
        "`1.2.3` is not a number",
    );
    rejects(
        "%2 = scale %0 {factor = 1, bias = 0 : f32[t, 4]",
        1,
        "expected `,`, found `:`",
    );
    rejects(
        "%2 = scale %0 {factor = , bias = 0} : f32[t, 4]",
        1,
        "expected an attribute value, found `,`",
    );
    rejects(
        "%2 = reshape %0 {shape = [t, q]} : f32[t, 4]",
        1,
        "unknown dimension symbol `q`",
    );
}

#[test]
fn value_errors() {
    rejects("%2 = silu %7 : f32[t, 4]", 1, "`%7` is not defined on an earlier line");
    rejects(
        "%2 = silu %3 : f32[t, 4]\n%3 = silu %0 : f32[t, 4]",
        1,
        "`%3` is not defined",
    );
    rejects("%0 = input \"y\" : f32[4]", 1, "`%0` is defined twice");
    rejects(
        "%2 = silu %0 : f32[t, 4]\n%2 = silu %0 : f32[t, 4]",
        2,
        "`%2` is defined twice",
    );
    rejects(
        "%2, %2 = moe_router %0, %1 {groups = 1, keep = 1, k = 2, norm = true, scale = 1} : i32[t, 2], f32[t, 2]",
        1,
        "`%2` is defined twice",
    );
    rejects("output %9 \"y\"", 1, "`%9` is not defined");
}

#[test]
fn result_count_errors() {
    let router = "moe_router %0, %1 {groups = 1, keep = 1, k = 2, norm = true, scale = 1}";
    rejects(
        &format!("%2 = {router} : i32[t, 2], f32[t, 2]"),
        1,
        "moe_router defines 2 value(s), the line names 1",
    );
    rejects(
        &format!("%2, %3 = {router} : i32[t, 2]"),
        1,
        "moe_router has 2 result type(s), the line gives 1",
    );
    rejects(
        "%2 = input \"y\" : f32[4], f32[4]",
        1,
        "input has 1 result type(s), the line gives 2",
    );
    rejects(
        "%2, %3 = silu %0 : f32[t, 4], f32[t, 4]",
        1,
        "silu defines 1 value(s), the line names 2",
    );
}

#[test]
fn type_syntax_errors() {
    rejects("%2 = silu %0 : f33[t, 4]", 1, "unknown dtype `f33`");
    rejects("%2 = silu %0 : f32[t, x]", 1, "unknown dimension symbol `x`");
    rejects("%2 = silu %0 : f32[t, -4]", 1, "`-4` is not a dimension");
    rejects("%2 = silu %0 : f32[t, 4", 1, "expected `,`, found the end of the line");
    rejects("%2 = silu %0 : f32", 1, "expected `[`");
    rejects("%2 = silu %0 :", 1, "expected a type");
    rejects("%2 = silu %0", 1, "found the end of the line");
}

#[test]
fn line_syntax_errors() {
    rejects(
        "%2 = silu %0 : f32[t, 4] \"n\" extra",
        1,
        "unexpected `extra` at the end of the line",
    );
    rejects("%2 = silu %0 : f32[t, 4] \"n\" \"m\"", 1, "unexpected string \"m\"");
    rejects("output %0 \"a\" \"b\"", 1, "unexpected string \"b\"");
    rejects("output %0", 1, "expected the output's name in quotes");
    rejects("%2 silu %0 : f32[t, 4]", 1, "expected `=`, found `silu`");
    rejects("silu %0 : f32[t, 4]", 1, "expected `%value = op ...`");
    rejects(
        "%2 = silu %0 %1 : f32[t, 4]",
        1,
        "expected `,`, `{` or `:` after an operand",
    );
    rejects("%2 = silu %0 : f32[t, 4] \"open", 1, "unterminated string");
    rejects("%2 = silu %0 : f32[t, 4] # x", 1, "unexpected character '#'");
    rejects("%2 = = %0 : f32[t, 4]", 1, "expected an op name");
}

#[test]
fn quoted_name_errors() {
    rejects("%2 = input : f32[4]", 1, "input needs a quoted name");
    rejects("%2 = weight %0 : f32[4]", 1, "weight needs a quoted name");
    rejects("%2 = add \"x\", %0 : f32[t, 4]", 1, "add takes no quoted name");
    rejects("%2 = input \"a\", \"b\" : f32[4]", 1, "more than one quoted name");
}

/// Defects only the verifier sees are reported at their node's line.
#[test]
fn verifier_errors_carry_the_line() {
    rejects(
        "%2 = silu %0 : f32[t, 8]",
        1,
        "stored result type(s) f32[t, 8] differ from the inferred f32[t, 4]",
    );
    rejects("%2 = add %0 : f32[t, 4]", 1, "add takes 2 operand(s), got 1");
    rejects(
        "%2 = silu %0 : f32[t, 4]\n%3 = top_k %2 {k = 5} : i32[t, 5]",
        2,
        "k = 5",
    );
    rejects(
        "%2 = input \"s\" : f32[]\n%3 = input \"i\" : i32[]\n%4 = gather %2, %3 : f32[]",
        3,
        "gather",
    );
}

#[test]
fn comments_and_blank_lines_count_as_lines() {
    rejects("; comment\n\n   \n%2 = silu %9 : f32[t, 4]", 4, "`%9` is not defined");
}

/// Random edits of the every-op text must parse or fail cleanly, never panic; whatever parses
/// prints as a fixed point.
#[test]
fn mangled_text_never_panics() {
    let base = every_op_canonical();
    let pieces = [
        "%3", "%99", ",", "=", ":", "{", "}", "[", "]", "\"", "t", "kv", "0", "-1", "1e99", "NaN", "f32", ";",
    ];
    let mut rng = StdRng::seed_from_u64(7);
    let mut parsed = 0;
    for case in 0..3000 {
        let mut text: Vec<char> = base.chars().collect();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..text.len());
            match rng.random_range(0..3) {
                0 => {
                    let end = (at + rng.random_range(1..8)).min(text.len());
                    text.drain(at..end);
                }
                1 => {
                    let p = pieces.choose(&mut rng).copied().unwrap_or(",");
                    text.splice(at..at, p.chars());
                }
                _ => {
                    let c = text[rng.random_range(0..text.len())];
                    text[at] = c;
                }
            }
        }
        let text: String = text.into_iter().collect();
        let result = std::panic::catch_unwind(|| parse(&text));
        match result {
            Err(_) => panic!("case {case}: parse panicked on:\n{text}"),
            Ok(Ok(g)) => {
                parsed += 1;
                let printed = print(&g);
                assert_eq!(print(&parse(&printed).unwrap()), printed, "case {case}");
            }
            Ok(Err(_)) => {}
        }
    }
    assert!(parsed > 0 && parsed < 3000, "{parsed} of 3000 mangled texts parsed");
}

#[test]
fn every_op_with_comments_parses() {
    assert!(parse(EVERY_OP).is_ok());
}
