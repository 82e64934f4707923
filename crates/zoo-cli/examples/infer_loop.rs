//! The loop a program that imports a model crate writes: one model, one input batch, the
//! forward pass again and again (no autodiff), on Flex. Prints the median time per pass.
//! `cargo build --release -p zoo-cli --example infer_loop && target/release/examples/infer_loop
//! conv1d-classifier 32 2000` (or `cifar-inception 64 200`, `binary-cnn 16 20`). The book's "Kernel measurements" has burn-zoo's
//! kernels with it, and the effect of glibc's `GLIBC_TUNABLES` on such a loop (README,
//! "Performance").
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, batch, reps, backend) = match &args[..] {
        [model, batch, reps] => (model, batch, reps, "flex"),
        [model, batch, reps, backend] => (model, batch, reps, backend.as_str()),
        _ => {
            eprintln!(
                "usage: infer_loop conv1d-classifier|cifar-inception|binary-cnn BATCH REPETITIONS [flex|ndarray]"
            );
            std::process::exit(2);
        }
    };
    let number = |v: &str| -> usize {
        v.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| {
            eprintln!("infer_loop: {v:?} is not a positive whole number");
            std::process::exit(2)
        })
    };
    let (batch, reps) = (number(batch), number(reps));
    #[allow(deprecated)] // burn-ndarray is deprecated upstream; burn-zoo still serves it
    let device = match backend {
        "flex" => Device::flex(),
        "ndarray" => Device::ndarray(),
        other => {
            eprintln!("infer_loop: no backend {other:?}: flex or ndarray");
            std::process::exit(2)
        }
    };
    let mut pass: Box<dyn FnMut()> = match model.as_str() {
        "conv1d-classifier" => {
            let config = conv1d_classifier::Conv1dClassifierConfig::homework();
            let network = config.init(&device);
            let shape = [batch, config.in_channels, config.length];
            let x = Tensor::<3>::random(shape, Distribution::Default, &device);
            Box::new(move || drop(network.forward(x.clone())))
        }
        "cifar-inception" => {
            let config = cifar_inception::CifarInceptionConfig::default();
            let network = config.init(&device);
            let side = config.image_size;
            let shape = [batch, config.in_channels, side, side];
            let x = Tensor::<4>::random(shape, Distribution::Default, &device);
            Box::new(move || drop(network.forward(x.clone())))
        }
        "binary-cnn" => {
            let config = binary_cnn::BinaryCnnConfig::homework();
            let network = config.init(&device);
            let side = config.image_size;
            let shape = [batch, config.in_channels, side, side];
            let x = Tensor::<4>::random(shape, Distribution::Default, &device);
            Box::new(move || drop(network.forward(x.clone())))
        }
        other => {
            eprintln!(
                "infer_loop: no model {other:?}: conv1d-classifier, cifar-inception or binary-cnn"
            );
            std::process::exit(2)
        }
    };
    let mut ms: Vec<f64> = (0..reps)
        .map(|_| {
            let started = Instant::now();
            pass();
            device.sync().expect("a CPU backend synchronises");
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let median = ms[reps / 2];
    println!(
        "{model} on {backend}, batch {batch}, {reps} passes: median {median:.3} ms, {:.0} images/s",
        batch as f64 / median * 1e3
    );
}
