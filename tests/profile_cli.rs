//! `--profile` on `bench` and `sweep-bench`: per-kernel tables for a prefill batch and a decode
//! token on wgpu (lavapipe has timestamp queries), and a clear error on the CPU backend.

mod common;

use common::*;

fn check_tables(out: &str, prefill: &str, decode: &str) {
    for what in [prefill, decode] {
        let at = out.find(what).unwrap_or_else(|| panic!("no \"{what}\" in:\n{out}"));
        let table = &out[at..];
        assert!(table.contains("| kernel") && table.contains("| total"), "{out}");
    }
    // the decode token's table names the mat-vec kernels, the prefill's the tiled ones
    let decode_table = &out[out.find(decode).unwrap_or(0)..];
    assert!(decode_table.contains("mat_vec."), "{out}");
}

#[test]
fn bench_profile_prints_kernel_tables() {
    let out = lingot_ok(
        &[
            "bench",
            "--backend",
            "wgpu",
            "-p",
            "12",
            "-n",
            "2",
            "-r",
            "1",
            "--profile",
        ],
        None,
    );
    assert!(out.contains("pp12") && out.contains("tg2"), "{out}");
    check_tables(
        &out,
        "profile: prefill of 12 tokens at N_KV 0",
        "profile: one decode token at N_KV 12",
    );
}

#[test]
fn sweep_bench_profile_prints_kernel_tables() {
    let out = lingot_ok(
        &["sweep-bench", "--backend", "wgpu", "-c", "32", "-ub", "16", "--profile"],
        None,
    );
    check_tables(
        &out,
        "profile: prefill of 16 tokens at N_KV 0",
        "profile: one decode token at N_KV 16",
    );
}

#[test]
fn profile_on_the_cpu_is_an_error() {
    let out = lingot(
        &[
            "bench",
            "--backend",
            "cpu",
            "-p",
            "4",
            "-n",
            "0",
            "-r",
            "1",
            "--profile",
        ],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--profile") && err.contains("wgpu"), "{err}");
}
