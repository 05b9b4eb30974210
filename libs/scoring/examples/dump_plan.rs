//! Prints the optimized tract plan of a one-input [N, F] model (for profiling).
//! Usage: dump_plan <model.onnx> <F>
use tract_onnx::prelude::*;

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let mut model = scoring::ops::onnx().model_for_path(&args[1])?;
    let n = model.symbols.sym("N");
    model.set_input_fact(
        0,
        f32::fact([n.to_dim(), args[2].parse::<usize>()?.to_dim()]).into(),
    )?;
    println!("{}", model.into_optimized()?);
    Ok(())
}
