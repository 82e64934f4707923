//! The optimizer step alone: a model's Adam step (the trainer's default optimizer) on Flex
//! with autodiff, after a fresh forward and backward pass each time (so that the parameters,
//! gradients and moments come from memory as in training). Prints the median time per step.
//! `cargo build --release -p zoo-cli --example optim_step && target/release/examples/optim_step
//! conv1d-classifier 40`; `ZOO_FUSED_ADAM=off` gives the same step by Burn's `Adam`.
//! The book's "Kernel measurements" ("Serial work in a training step") measured burn-zoo's fused step with it.
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;
use zoo_train::{OptimizerConfig, build_optimizer};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: optim_step conv1d-classifier|cifar-inception|binary-cnn STEPS";
    let [model, steps] = &args[..] else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let Some(steps) = steps.parse::<usize>().ok().filter(|&n| n > 0) else {
        eprintln!("optim_step: {steps:?} is not a positive whole number; {usage}");
        std::process::exit(2)
    };
    let device = Device::flex().autodiff();
    let mut optimizer = build_optimizer(&OptimizerConfig::default());
    let mut ms = Vec::with_capacity(steps);
    macro_rules! time_steps {
        ($network:expr, $shape:expr) => {{
            let mut network = $network;
            for _ in 0..steps {
                let x = Tensor::random($shape, Distribution::Default, &device);
                let grads = network.forward(x).sum().backward();
                let grads = GradientsParams::from_grads(grads, &network);
                let started = Instant::now();
                network = optimizer.step(1e-6, network, grads);
                ms.push(started.elapsed().as_secs_f64() * 1e3);
            }
        }};
    }
    match model.as_str() {
        "conv1d-classifier" => {
            let config = conv1d_classifier::Conv1dClassifierConfig::homework();
            time_steps!(
                config.init(&device),
                [32, config.in_channels, config.length]
            )
        }
        "cifar-inception" => {
            let config = cifar_inception::CifarInceptionConfig::default();
            let side = config.image_size;
            time_steps!(config.init(&device), [8, config.in_channels, side, side])
        }
        "binary-cnn" => {
            let config = binary_cnn::BinaryCnnConfig::homework();
            let side = config.image_size;
            time_steps!(config.init(&device), [2, config.in_channels, side, side])
        }
        other => {
            eprintln!("optim_step: no model {other:?}; {usage}");
            std::process::exit(2)
        }
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{model}: {steps} Adam steps, median {:.3} ms (fastest {:.3})",
        ms[steps / 2],
        ms[0]
    );
}
