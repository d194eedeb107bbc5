//! The one text step that makes WGSL variants from the templates in `shaders/`: a prelude of
//! `const` lines, then the template with each `//@include <name>` line replaced by a snippet
//! (see `kernels.rs` for which kernel gets which).

/// A prelude constant.
#[derive(Debug, Clone, Copy)]
pub enum Const {
    U32(&'static str, u32),
    Bool(&'static str, bool),
}

/// The substitution step: the prelude constants, then `template` with each
/// `//@include <name>` line replaced by the snippet of that name. An include without a snippet is
/// an error (a template/catalogue mismatch), as is a snippet the template never includes.
pub fn assemble(template: &str, consts: &[Const], snippets: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::new();
    for c in consts {
        let line = match c {
            Const::U32(name, v) => format!("const {name}: u32 = {v}u;\n"),
            Const::Bool(name, v) => format!("const {name}: bool = {v};\n"),
        };
        out.push_str(&line);
    }
    let mut used = vec![false; snippets.len()];
    for line in template.lines() {
        match line.trim().strip_prefix("//@include ") {
            Some(name) => {
                let i = snippets
                    .iter()
                    .position(|(n, _)| *n == name.trim())
                    .ok_or_else(|| format!("no snippet \"{}\" for this template", name.trim()))?;
                used[i] = true;
                out.push_str(snippets[i].1);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(format!("snippet \"{}\" is not included by the template", snippets[i].0));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assemble_splices_and_checks() {
        let t = "a\n//@include x\nb";
        let s = assemble(t, &[Const::U32("WG", 64)], &[("x", "X")]).unwrap();
        assert_eq!(s, "const WG: u32 = 64u;\na\nX\nb\n");
        assert!(assemble(t, &[], &[]).is_err());
        assert!(assemble("a", &[], &[("x", "X")]).is_err());
    }
}
