//! Kernel profiles (`lingot bench --profile`): the GPU time of each launch of one run, measured
//! with timestamp queries (one compute pass per launch, a timestamp at each end), summed per
//! kernel variant into a table of launches, time, share and achieved read bandwidth; and summed
//! per graph op (the node's name without its layer number, with the kernel it ran).

/// One launch of a profiled run.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelTime {
    /// The pipeline's label (`mat_vec.q4_k+subgroups`).
    pub kernel: String,
    /// The graph node it computes (`mul_mat "result_output" (530)`).
    pub node: String,
    /// GPU time between the pass's start and end timestamps.
    pub ns: f64,
    /// Bytes the launch reads (weights and activations, from shapes and dtypes).
    pub bytes: u64,
}

/// One kernel variant's launches, summed.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRow {
    pub kernel: String,
    pub launches: usize,
    pub ns: f64,
    pub bytes: u64,
}

impl ProfileRow {
    /// Achieved read bandwidth, GB/s (bytes per nanosecond).
    pub fn gb_per_s(&self) -> f64 {
        if self.ns > 0.0 {
            self.bytes as f64 / self.ns
        } else {
            0.0
        }
    }
}

/// Launches summed per kernel, the longest total first.
pub fn summarize(times: &[KernelTime]) -> Vec<ProfileRow> {
    summarize_by(times, |t| t.kernel.clone())
}

/// Launches summed per graph op and kernel (`mul_mat ffn_shexp_gate: mat_mul.q4_k+coop`: the
/// node's op and name without its layer number), the longest total first.
pub fn summarize_by_op(times: &[KernelTime]) -> Vec<ProfileRow> {
    summarize_by(times, |t| format!("{}: {}", op_of(&t.node), t.kernel))
}

/// The op and name of a node label without the layer number and node index: `mul_mat
/// "ffn_shexp_gate.3" (530)` -> `mul_mat ffn_shexp_gate`; `rms_norm_mul (12)` -> `rms_norm_mul`.
pub fn op_of(node: &str) -> String {
    let op = node.split_whitespace().next().unwrap_or("");
    let name = node.split('"').nth(1).map(|n| match n.rsplit_once('.') {
        Some((stem, layer)) if layer.chars().all(|c| c.is_ascii_digit()) => stem,
        _ => n,
    });
    match name {
        Some(n) => format!("{op} {n}"),
        None => op.to_string(),
    }
}

fn summarize_by(times: &[KernelTime], key: impl Fn(&KernelTime) -> String) -> Vec<ProfileRow> {
    let mut rows: Vec<ProfileRow> = vec![];
    for t in times {
        let k = key(t);
        match rows.iter_mut().find(|r| r.kernel == k) {
            Some(r) => {
                r.launches += 1;
                r.ns += t.ns;
                r.bytes += t.bytes;
            }
            None => rows.push(ProfileRow {
                kernel: k,
                launches: 1,
                ns: t.ns,
                bytes: t.bytes,
            }),
        }
    }
    rows.sort_by(|a, b| b.ns.total_cmp(&a.ns));
    rows
}

/// A markdown table of `rows` (from [`summarize`]) with a total line.
pub fn table(rows: &[ProfileRow]) -> String {
    table_titled(rows, "kernel")
}

/// [`table`] with `title` over the first column (`graph op: kernel` for [`summarize_by_op`]).
pub fn table_titled(rows: &[ProfileRow], title: &str) -> String {
    let total_ns: f64 = rows.iter().map(|r| r.ns).sum();
    let launches: usize = rows.iter().map(|r| r.launches).sum();
    let bytes: u64 = rows.iter().map(|r| r.bytes).sum();
    let w = rows
        .iter()
        .map(|r| r.kernel.len())
        .chain([35, title.len()])
        .max()
        .unwrap_or(35);
    let mut s = String::new();
    s.push_str(&format!(
        "| {title:<w$} | launches |   total us |  share |     GB/s |\n"
    ));
    s.push_str(&format!(
        "| {} | -------: | ---------: | -----: | -------: |\n",
        "-".repeat(w)
    ));
    let line = |kernel: &str, launches: usize, ns: f64, bytes: u64| {
        let share = if total_ns > 0.0 { 100.0 * ns / total_ns } else { 0.0 };
        let gbs = if ns > 0.0 { bytes as f64 / ns } else { 0.0 };
        format!(
            "| {kernel:<w$} | {launches:>8} | {:>10.1} | {share:>5.1}% | {gbs:>8.1} |\n",
            ns / 1e3
        )
    };
    for r in rows {
        s.push_str(&line(&r.kernel, r.launches, r.ns, r.bytes));
    }
    s.push_str(&line("total", launches, total_ns, bytes));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kernel: &str, ns: f64, bytes: u64) -> KernelTime {
        KernelTime {
            kernel: kernel.into(),
            node: String::new(),
            ns,
            bytes,
        }
    }

    #[test]
    fn sums_per_kernel_longest_first() {
        let rows = summarize(&[t("a", 10.0, 100), t("b", 50.0, 0), t("a", 30.0, 300)]);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].kernel.as_str(), rows[0].launches, rows[0].ns), ("b", 1, 50.0));
        assert_eq!(
            (rows[1].kernel.as_str(), rows[1].launches, rows[1].bytes),
            ("a", 2, 400)
        );
        // 400 bytes in 40 ns = 10 bytes/ns = 10 GB/s
        assert_eq!(rows[1].gb_per_s(), 10.0);
    }

    #[test]
    fn ops_are_named_without_their_layer() {
        assert_eq!(op_of("mul_mat \"ffn_shexp_gate.3\" (530)"), "mul_mat ffn_shexp_gate");
        assert_eq!(op_of("mul_mat \"result_output\" (7)"), "mul_mat result_output");
        assert_eq!(op_of("rms_norm_mul (12)"), "rms_norm_mul");
        let mut a = t("mat_vec.q4_k", 3.0, 0);
        a.node = "mul_mat \"attn_qkv.0\" (8)".into();
        let mut b = a.clone();
        b.node = "mul_mat \"attn_qkv.1\" (40)".into();
        let rows = summarize_by_op(&[a, b]);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].kernel.as_str(), rows[0].launches),
            ("mul_mat attn_qkv: mat_vec.q4_k", 2)
        );
    }

    #[test]
    fn table_has_shares_and_total() {
        let rows = summarize(&[t("mat_vec.q4_k", 3000.0, 6000), t("rms_norm", 1000.0, 0)]);
        let s = table(&rows);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 5, "{s}");
        // 3 us of 4: 75%, 6000 bytes / 3000 ns = 2 GB/s
        assert!(lines[2].contains("mat_vec.q4_k") && lines[2].contains("75.0%"), "{s}");
        assert!(
            lines[2].contains("       3.0 |") && lines[2].contains("     2.0 |"),
            "{s}"
        );
        assert!(lines[3].contains("25.0%"), "{s}");
        assert!(lines[4].starts_with("| total") && lines[4].contains("100.0%") && lines[4].contains("        2 |"));
    }
}
