// Angles for RoPE, shared by rope and norm_rope.

// sin and cos of an angle of any size: reduced to [-π, π] first (Cody-Waite, 2π in two parts),
// as GPU sin/cos are only accurate near zero.
fn sin_cos(a: f32) -> vec2<f32> {
    let k = round(a * 0.15915494309189535);
    let r = (a - k * 6.28125) - k * 0.0019353071795864769;
    return vec2<f32>(sin(r), cos(r));
}
