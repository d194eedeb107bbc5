//! `lingot devices`: the GPU adapters wgpu sees, with the index `--device N` takes.

use anyhow::Result;

pub fn run() -> Result<()> {
    let rows = lingot_wgpu::list_adapters();
    if rows.is_empty() {
        println!("no wgpu adapters found (lingot will run on the CPU)");
    }
    for row in rows {
        println!("{row}");
    }
    Ok(())
}
