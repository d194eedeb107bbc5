//! Choosing the next token from a row of logits, the way llama.cpp's default sampler chain does:
//! repetition penalty over the last tokens, then top-k, top-p, min-p, temperature, and a draw from a
//! seeded RNG, so the same seed gives the same tokens. Temperature 0 is greedy (the first highest logit).
//!
//! What must not live here: evaluating the model or decoding tokens to text (the caller's business).

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thiserror::Error;

/// Sampler settings; [`Default`] gives llama.cpp's defaults (seed 0).
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerParams {
    /// Temperature; 0 means greedy.
    pub temp: f32,
    /// Keep the `top_k` most likely tokens; 0 keeps all.
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability adds up to `top_p`; 1 keeps all.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one; 0 keeps all.
    pub min_p: f32,
    /// Divide positive (multiply negative) logits of recently seen tokens by this; 1 is off.
    pub repeat_penalty: f32,
    /// How many of the last tokens the repetition penalty looks at.
    pub repeat_last_n: usize,
    /// Seed of the RNG that draws tokens.
    pub seed: u64,
}

impl Default for SamplerParams {
    fn default() -> Self {
        SamplerParams {
            temp: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0,
        }
    }
}

/// A sampler setting out of range, or nothing to sample from.
#[derive(Debug, Error, PartialEq)]
pub enum SamplingError {
    #[error("sampling parameter {name} = {value} is out of range: it must be {expected}")]
    OutOfRange {
        name: &'static str,
        value: f32,
        expected: &'static str,
    },
    #[error("cannot sample from an empty row of logits")]
    NoLogits,
}

/// A token candidate: its id and current logit.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    id: u32,
    logit: f32,
}

/// Draws tokens with [`SamplerParams`]; owns the seeded RNG, so one sampler is one reproducible stream.
#[derive(Clone, Debug)]
pub struct Sampler {
    params: SamplerParams,
    rng: StdRng,
}

impl Sampler {
    pub fn new(params: SamplerParams) -> Result<Sampler, SamplingError> {
        check("temp", params.temp, params.temp >= 0.0, "0 or more (0 = greedy)")?;
        check(
            "top_p",
            params.top_p,
            (0.0..=1.0).contains(&params.top_p),
            "between 0 and 1",
        )?;
        check(
            "min_p",
            params.min_p,
            (0.0..=1.0).contains(&params.min_p),
            "between 0 and 1",
        )?;
        check(
            "repeat_penalty",
            params.repeat_penalty,
            params.repeat_penalty > 0.0 && params.repeat_penalty.is_finite(),
            "a positive number (1 = off)",
        )?;
        let rng = StdRng::seed_from_u64(params.seed);
        Ok(Sampler { params, rng })
    }

    pub fn params(&self) -> &SamplerParams {
        &self.params
    }

    /// The next token given the logits of the last position and the tokens so far (for the penalty).
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> Result<u32, SamplingError> {
        let mut cands: Vec<Candidate> = (0u32..)
            .zip(logits)
            .map(|(id, &logit)| Candidate {
                id,
                // A NaN logit can never be chosen.
                logit: if logit.is_nan() { f32::NEG_INFINITY } else { logit },
            })
            .collect();
        if cands.is_empty() {
            return Err(SamplingError::NoLogits);
        }
        self.apply_repeat_penalty(&mut cands, history);
        if self.params.temp <= 0.0 {
            return Ok(greedy(&cands));
        }
        // Most likely first; equal logits in id order, so the result never depends on sort internals.
        cands.sort_by(|a, b| b.logit.total_cmp(&a.logit).then(a.id.cmp(&b.id)));
        if self.params.top_k > 0 {
            cands.truncate(self.params.top_k);
        }
        top_p(&mut cands, self.params.top_p);
        min_p(&mut cands, self.params.min_p);
        for c in &mut cands {
            c.logit /= self.params.temp;
        }
        let probs = softmax(&cands);
        let u: f64 = self.rng.random();
        let mut cum = 0.0;
        for (c, p) in cands.iter().zip(&probs) {
            cum += p;
            if u < cum {
                return Ok(c.id);
            }
        }
        // Rounding left the sum just under u: the last candidate.
        Ok(cands[cands.len() - 1].id)
    }

    /// llama.cpp's penalty: each distinct token among the last `repeat_last_n` has its logit divided by
    /// the penalty if positive, multiplied if not.
    fn apply_repeat_penalty(&self, cands: &mut [Candidate], history: &[u32]) {
        let penalty = self.params.repeat_penalty;
        if penalty == 1.0 || self.params.repeat_last_n == 0 {
            return;
        }
        let start = history.len().saturating_sub(self.params.repeat_last_n);
        let seen: HashSet<u32> = history[start..].iter().copied().collect();
        for id in seen {
            if let Some(c) = cands.get_mut(id as usize) {
                c.logit = if c.logit <= 0.0 {
                    c.logit * penalty
                } else {
                    c.logit / penalty
                };
            }
        }
    }
}

fn check(name: &'static str, value: f32, ok: bool, expected: &'static str) -> Result<(), SamplingError> {
    if ok {
        Ok(())
    } else {
        Err(SamplingError::OutOfRange { name, value, expected })
    }
}

/// The first candidate with the highest logit.
fn greedy(cands: &[Candidate]) -> u32 {
    let mut best = cands[0];
    for c in &cands[1..] {
        if c.logit > best.logit {
            best = *c;
        }
    }
    best.id
}

/// Probabilities of sorted candidates, computed in f64.
fn softmax(cands: &[Candidate]) -> Vec<f64> {
    let max = f64::from(cands[0].logit);
    let exps: Vec<f64> = cands.iter().map(|c| (f64::from(c.logit) - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// Keeps the shortest prefix of sorted candidates whose probability reaches `p` (at least one).
fn top_p(cands: &mut Vec<Candidate>, p: f32) {
    if p >= 1.0 {
        return;
    }
    let probs = softmax(cands);
    let mut cum = 0.0;
    for (i, prob) in probs.iter().enumerate() {
        cum += prob;
        if cum >= f64::from(p) {
            cands.truncate(i + 1);
            return;
        }
    }
}

/// Drops sorted candidates with probability under `p` times the best one's (keeps at least one).
fn min_p(cands: &mut Vec<Candidate>, p: f32) {
    if p <= 0.0 {
        return;
    }
    let min_logit = cands[0].logit + p.ln();
    let keep = cands.iter().take_while(|c| c.logit >= min_logit).count();
    cands.truncate(keep.max(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(params: SamplerParams) -> Sampler {
        Sampler::new(params).expect("valid parameters")
    }

    #[test]
    fn greedy_takes_the_first_maximum() {
        let mut s = sampler(SamplerParams {
            temp: 0.0,
            ..SamplerParams::default()
        });
        assert_eq!(s.sample(&[0.5, 2.0, 2.0, -1.0], &[]), Ok(1));
    }

    #[test]
    fn repeat_penalty_changes_the_greedy_choice() {
        let params = SamplerParams {
            temp: 0.0,
            repeat_penalty: 2.0,
            ..SamplerParams::default()
        };
        // 3.0 / 2 = 1.5 < 2.0, and -1.0 * 2 = -2.0.
        assert_eq!(sampler(params.clone()).sample(&[3.0, 2.0, -1.0], &[0, 2]), Ok(1));
        // Beyond repeat_last_n the token is not penalised.
        let short = SamplerParams {
            repeat_last_n: 1,
            ..params
        };
        assert_eq!(sampler(short).sample(&[3.0, 2.0, -1.0], &[0, 2]), Ok(0));
    }

    #[test]
    fn top_k_one_is_greedy_at_any_temperature() {
        let mut s = sampler(SamplerParams {
            temp: 5.0,
            top_k: 1,
            ..SamplerParams::default()
        });
        for _ in 0..50 {
            assert_eq!(s.sample(&[0.1, 0.3, 0.2], &[]), Ok(1));
        }
    }

    #[test]
    fn min_p_and_top_p_cut_the_tail() {
        // p = softmax([0, 0, -10]): the last token has probability ~2e-5.
        let logits = [0.0, 0.0, -10.0];
        let mut s = sampler(SamplerParams {
            temp: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.01,
            ..SamplerParams::default()
        });
        for _ in 0..200 {
            assert_ne!(s.sample(&logits, &[]), Ok(2));
        }
        let mut s = sampler(SamplerParams {
            temp: 1.0,
            top_k: 0,
            top_p: 0.4,
            min_p: 0.0,
            ..SamplerParams::default()
        });
        // Ties sort by id, so top-p 0.4 keeps token 0 alone.
        for _ in 0..50 {
            assert_eq!(s.sample(&logits, &[]), Ok(0));
        }
    }

    #[test]
    fn the_draw_follows_the_distribution() {
        // p = [0.25, 0.75] at temperature 1.
        let logits = [0.0, 3f32.ln()];
        let mut s = sampler(SamplerParams {
            temp: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            seed: 7,
            ..SamplerParams::default()
        });
        let n = 20_000;
        let ones = (0..n).filter(|_| s.sample(&logits, &[]) == Ok(1)).count();
        let frac = ones as f64 / f64::from(n);
        assert!(
            (frac - 0.75).abs() < 0.02,
            "token 1 drawn {frac} of the time, expected 0.75"
        );
    }

    #[test]
    fn same_seed_same_tokens() {
        let logits: Vec<f32> = (0..64).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let params = SamplerParams {
            temp: 1.5,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            seed: 42,
            ..SamplerParams::default()
        };
        let draw = |params: SamplerParams| {
            let mut s = sampler(params);
            (0..40)
                .map(|_| s.sample(&logits, &[]).expect("sample"))
                .collect::<Vec<u32>>()
        };
        assert_eq!(draw(params.clone()), draw(params.clone()));
        assert_ne!(draw(params.clone()), draw(SamplerParams { seed: 43, ..params }));
    }

    #[test]
    fn out_of_range_parameters_are_rejected() {
        for (params, name) in [
            (
                SamplerParams {
                    temp: -1.0,
                    ..SamplerParams::default()
                },
                "temp",
            ),
            (
                SamplerParams {
                    top_p: 2.0,
                    ..SamplerParams::default()
                },
                "top_p",
            ),
            (
                SamplerParams {
                    min_p: -0.1,
                    ..SamplerParams::default()
                },
                "min_p",
            ),
            (
                SamplerParams {
                    repeat_penalty: 0.0,
                    ..SamplerParams::default()
                },
                "repeat_penalty",
            ),
        ] {
            match Sampler::new(params) {
                Err(SamplingError::OutOfRange { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: expected an out-of-range error, got {other:?}"),
            }
        }
        assert_eq!(
            sampler(SamplerParams::default()).sample(&[], &[]),
            Err(SamplingError::NoLogits)
        );
    }
}
