//! The Q8_0 and Q4_0 quantizers: a hand-worked block each, and random rows whose dequantized
//! values must lie within a quantization step of the input (half a step where nothing clamps).

use half::f16;
use lingot_cpu::quant::{dequantize_row, quantize_row_q4_0, quantize_row_q8_0, QuantError};
use lingot_ir::DType;
use rand::{rngs::StdRng, Rng, SeedableRng};

#[test]
fn q8_0_hand_worked_block() {
    // x = j - 16: max |x| = 16, d = 16/127, 1/d = 7.9375 exactly, q = round((j - 16) * 7.9375).
    let x: Vec<f32> = (0..32).map(|j| j as f32 - 16.0).collect();
    let mut b = [0u8; 34];
    quantize_row_q8_0(&x, &mut b).expect("quantize");
    assert_eq!(b[0..2], f16::from_f32(16.0 / 127.0).to_le_bytes());
    assert_eq!(b[2] as i8, -127); // -16 * 7.9375
    assert_eq!(b[3] as i8, -119); // -15 * 7.9375 = -119.0625
    assert_eq!(b[2 + 16] as i8, 0);
    assert_eq!(b[2 + 31] as i8, 119); // 15 * 7.9375
    assert_eq!(b[2 + 24] as i8, 64); // 8 * 7.9375 = 63.5 rounds away from zero
}

#[test]
fn q4_0_hand_worked_block() {
    // x = j - 16: the largest magnitude is -16, so d = -16 / -8 = 2 and q = trunc(x / 2 + 8.5),
    // capped at 15: x = -16 -> 0, x = 0 -> 8, x = 15 -> 16 capped to 15, x = -1 -> 8.
    let x: Vec<f32> = (0..32).map(|j| j as f32 - 16.0).collect();
    let mut b = [0u8; 18];
    quantize_row_q4_0(&x, &mut b).expect("quantize");
    assert_eq!(b[0..2], f16::from_f32(2.0).to_le_bytes());
    let q = |e: usize| {
        if e < 16 {
            b[2 + e] & 15
        } else {
            b[2 + e - 16] >> 4
        }
    };
    assert_eq!([q(0), q(16), q(31), q(15)], [0, 8, 15, 8]);
}

#[test]
fn quantized_rows_round_trip_within_a_step() {
    let mut rng = StdRng::seed_from_u64(3);
    for _ in 0..50 {
        let scale = 2f32.powi(rng.random_range(-8..8));
        let x: Vec<f32> = (0..128).map(|_| rng.random_range(-1.0..1.0) * scale).collect();
        for dtype in [DType::Q8_0, DType::Q4_0] {
            let mut b = vec![0u8; 4 * dtype.block_bytes()];
            match dtype {
                DType::Q8_0 => quantize_row_q8_0(&x, &mut b),
                _ => quantize_row_q4_0(&x, &mut b),
            }
            .expect("quantize");
            let mut y = vec![0f32; 128];
            dequantize_row(dtype, &b, &mut y).expect("dequantize");
            for (blk, (xs, ys)) in x.chunks(32).zip(y.chunks(32)).enumerate() {
                let amax = xs.iter().fold(0f32, |a, v| a.max(v.abs()));
                // Q8_0: half a step. Q4_0 maps the largest magnitude to -8 steps, so the other
                // sign only reaches +7 and loses up to a whole step there. Plus the f16
                // rounding of d over up to 8 (127) steps.
                let (levels, steps) = match dtype {
                    DType::Q8_0 => (127.0, 0.5),
                    _ => (8.0, 1.0),
                };
                let tol = amax / levels * (steps + levels * 2f32.powi(-11)) * 1.0001;
                for (xv, yv) in xs.iter().zip(ys) {
                    assert!((xv - yv).abs() <= tol, "{dtype} block {blk}: {xv} -> {yv}");
                }
            }
        }
    }
}

#[test]
fn quantizers_check_lengths() {
    let err = quantize_row_q8_0(&[0.0; 32], &mut [0u8; 33]).unwrap_err();
    let want = QuantError::ByteLength {
        dtype: DType::Q8_0,
        elems: 32,
        expected: 34,
        got: 33,
    };
    assert_eq!(err, want);
    let err = quantize_row_q4_0(&[0.0; 31], &mut [0u8; 18]).unwrap_err();
    assert!(matches!(err, QuantError::PartialBlock { .. }), "{err}");
}
