//! `lingot run`: greedy decoding through the KV cache equals the argmax chain computed independently with
//! `lingot logits` (the whole growing sequence evaluated in one batch from position 0 each step); the same
//! seed gives the same text and another seed another; an interactive chat keeps its conversation.

mod common;

use common::*;
use lingot::backend::{self, BackendChoice};
use lingot::commands::run::{generate, Session, Stop};
use lingot_models::bailing_moe2::{build_graph, GraphOptions, HParams};
use lingot_models::gguf::GgufFile;
use lingot_models::sampling::{Sampler, SamplerParams};
use lingot_models::tokenizer::Tokenizer;

const PROMPT: &str = "It is a truth universally acknowledged";
const STEPS: usize = 20;

fn ids_of(stdout: &str) -> Vec<u32> {
    let last = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("tokenize printed nothing"));
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{last:?}: {e}"))
}

/// Greedy continuation by `lingot logits` alone: each step evaluates the whole sequence from position 0
/// in one batch and takes the argmax of the last row; stops early at an end-of-generation token.
fn logits_chain(model: &str, tokenizer: &Tokenizer, prompt: &[u32], steps: usize) -> Vec<u32> {
    let out = std::env::temp_dir().join(format!("lingot-generation-{}.npy", std::process::id()));
    let out_str = out.to_str().expect("utf-8").to_string();
    let mut seq = prompt.to_vec();
    let mut chain = vec![];
    for _ in 0..steps {
        let ids: Vec<String> = seq.iter().map(u32::to_string).collect();
        let ids = ids.join(" ");
        lingot_ok(
            &[
                "logits",
                "-m",
                model,
                "--backend",
                "cpu",
                "--tokens",
                &ids,
                "--out",
                &out_str,
            ],
            None,
        );
        let (shape, logits) = lingot_models::npy::read_f32(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(shape[0], seq.len(), "one row of logits per token");
        let next = argmax(&logits[(seq.len() - 1) * shape[1]..]) as u32;
        if tokenizer.is_end_of_generation(next) {
            break;
        }
        chain.push(next);
        seq.push(next);
    }
    let _ = std::fs::remove_file(&out);
    chain
}

#[test]
fn greedy_run_equals_the_logits_argmax_chain() {
    let path = gguf_path("tiny", "F32");
    let model = path.to_str().expect("utf-8");
    let file = GgufFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let tokenizer = Tokenizer::from_gguf(&file).unwrap_or_else(|e| panic!("{e}"));
    let prompt = ids_of(&lingot_ok(&["tokenize", "-m", model, "--ids", PROMPT], None));
    let chain = logits_chain(model, &tokenizer, &prompt, STEPS);
    assert!(!chain.is_empty(), "the chain ended at once: nothing to compare");

    // The binary prints the prompt, then the generated text (control tokens hidden), then a newline.
    let stdout = lingot_ok(
        &[
            "run",
            "-m",
            model,
            "--backend",
            "cpu",
            "--temp",
            "0",
            "-n",
            "20",
            "-p",
            PROMPT,
        ],
        None,
    );
    let shown: Vec<u32> = chain.iter().copied().filter(|&id| !tokenizer.is_control(id)).collect();
    let want = format!("{PROMPT}{}\n", tokenizer.decode(&shown).expect("decode"));
    assert_eq!(stdout, want, "lingot run --temp 0 -n 20 vs the argmax chain {chain:?}");

    // The library: the same token ids, and the right reason to stop.
    let hp = HParams::from_gguf(&file).unwrap_or_else(|e| panic!("{e}"));
    let graph = build_graph(&hp, &file, GraphOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let be = backend::open_choice(&file, BackendChoice::Cpu, 256).unwrap_or_else(|e| panic!("{e:#}"));
    let mut session = Session::new(be, graph, 256);
    let mut sampler = Sampler::new(SamplerParams {
        temp: 0.0,
        ..SamplerParams::default()
    })
    .expect("sampler");
    let mut streamed = vec![];
    let g = generate(
        &mut session,
        &tokenizer,
        &mut sampler,
        &prompt,
        Some(STEPS),
        &mut |id| {
            streamed.push(id);
            Ok(())
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(g.tokens, chain, "generate() vs the argmax chain");
    assert_eq!(streamed, chain, "every token is streamed");
    assert_eq!(g.prompt_evaluated, prompt.len());
    if chain.len() == STEPS {
        assert_eq!(g.stop, Stop::Limit);
    } else {
        assert!(
            matches!(g.stop, Stop::EndOfGeneration(id) if tokenizer.is_end_of_generation(id)),
            "stopped by {:?}",
            g.stop
        );
    }
}

/// The built-in model (no -m) at temperature 1: a seed fixes the text.
fn sample(seed: &str) -> (String, String) {
    let out = lingot(
        &[
            "run",
            "--backend",
            "cpu",
            "--temp",
            "1",
            "--seed",
            seed,
            "-n",
            "32",
            "-p",
            PROMPT,
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "lingot run --seed {seed}: {stderr}");
    (String::from_utf8(out.stdout).expect("utf-8"), stderr)
}

#[test]
fn same_seed_same_text() {
    let (a, stderr) = sample("42");
    let (b, _) = sample("42");
    let (c, _) = sample("43");
    assert!(
        a.starts_with(PROMPT) && a.len() > PROMPT.len() + 1,
        "generated nothing: {a:?}"
    );
    assert_eq!(a, b, "two runs with --seed 42");
    assert_ne!(a, c, "--seed 42 and --seed 43 gave the same text");
    assert!(stderr.contains("seed 42"), "the seed is reported: {stderr}");
    assert!(stderr.contains("t/s"), "speeds are reported: {stderr}");
}

/// `-i` reads user turns from stdin and keeps the conversation and its KV cache: the second reply is the
/// one a fresh run gives for the whole conversation so far.
#[test]
fn interactive_chat_keeps_the_conversation() {
    let common_args = ["run", "--backend", "cpu", "--temp", "0", "-n", "12"];
    let (first, second) = ("Who is Mr. Darcy?", "And Elizabeth?");
    let with = |extra: &[&str], stdin: Option<&str>| {
        let mut args = common_args.to_vec();
        args.extend(extra);
        lingot_ok(&args, stdin)
    };
    let both = with(&["-i"], Some(&format!("{first}\n\n{second}\n")));
    let out1 = with(&["--chat", "-p", first], None);
    // The conversation keeps the reply as printed, without the newlines that end it.
    let reply1 = out1.trim_end_matches('\n');
    assert!(!reply1.is_empty(), "no first reply");
    let messages = serde_json::json!([
        {"role": "user", "content": first},
        {"role": "assistant", "content": reply1},
        {"role": "user", "content": second},
    ]);
    let path = std::env::temp_dir().join(format!("lingot-generation-{}.json", std::process::id()));
    std::fs::write(&path, messages.to_string()).expect("write messages");
    let out2 = with(&["--messages", path.to_str().expect("utf-8")], None);
    let _ = std::fs::remove_file(&path);
    assert_eq!(both, format!("{out1}{out2}"), "interactive replies vs fresh runs");
}

/// With -n -1 generation runs until the context is full: `n_ctx - prompt` tokens fill it, and one more
/// is sampled from the logits of the full context. The tokens are the greedy chain's.
#[test]
fn generation_stops_when_the_context_is_full() {
    let path = gguf_path("tiny", "F32");
    let file = GgufFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let tokenizer = Tokenizer::from_gguf(&file).unwrap_or_else(|e| panic!("{e}"));
    let hp = HParams::from_gguf(&file).unwrap_or_else(|e| panic!("{e}"));
    let prompt = tokenizer.encode(PROMPT, true).expect("tokenize");
    let greedy = || {
        Sampler::new(SamplerParams {
            temp: 0.0,
            ..SamplerParams::default()
        })
        .expect("sampler")
    };
    let run = |n_ctx: usize, n_predict: Option<usize>| {
        let graph = build_graph(&hp, &file, GraphOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let be = backend::open_choice(&file, BackendChoice::Cpu, n_ctx).unwrap_or_else(|e| panic!("{e:#}"));
        let mut session = Session::new(be, graph, n_ctx);
        generate(&mut session, &tokenizer, &mut greedy(), &prompt, n_predict, &mut |_| {
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e:#}"))
    };
    let long = run(256, Some(STEPS));
    assert_eq!(
        long.stop,
        Stop::Limit,
        "precondition: tiny's greedy chain runs {STEPS} tokens without ending"
    );
    let full = run(prompt.len() + 5, None);
    assert_eq!(full.stop, Stop::ContextFull);
    assert_eq!(
        full.tokens,
        long.tokens[..6],
        "5 tokens fill the context, a 6th is sampled from it"
    );
}

#[test]
fn the_prompt_can_come_from_stdin() {
    let model = gguf_path("tiny", "F32").display().to_string();
    let args = ["run", "-m", &model, "--backend", "cpu", "--temp", "0", "-n", "5"];
    let from_stdin = lingot_ok(&args, Some(PROMPT));
    let mut with_p = args.to_vec();
    with_p.extend(["-p", PROMPT]);
    assert_eq!(from_stdin, lingot_ok(&with_p, None));
    assert!(from_stdin.len() > PROMPT.len() + 1, "generated nothing: {from_stdin:?}");
}
