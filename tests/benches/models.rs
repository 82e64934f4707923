//! Criterion benchmarks of each classifier's forward pass and training step (the trainer's
//! own: `TrainStep::step` + Adam) on Flex and NdArray, at small sizes so that `just bench`
//! stays minutes long. `zoo bench` measures full-size batches; BENCHMARKS.md compares with
//! PyTorch.

use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use burn::train::TrainStep;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use zoo_cli::registry::{Model, ModelKind};
use zoo_data::{ImageBatch, SequenceBatch};
use zoo_train::{
    Classifier, Classify, ClipConfig, LabeledBatch, OptimizerConfig, Task, build_optimizer,
};

const BATCH: usize = 4;

fn devices() -> Vec<(&'static str, Device)> {
    #[allow(deprecated)] // burn-ndarray is deprecated upstream; zoo still offers it
    let ndarray = Device::ndarray();
    vec![("flex", Device::flex()), ("ndarray", ndarray)]
}

/// The model under test, at a small size where the homework's is large.
fn kinds() -> Vec<ModelKind> {
    let mut binary = ModelKind::by_name("binary-cnn").unwrap();
    binary = binary.with_input_shape(&[1, 64, 64]).unwrap();
    vec![
        ModelKind::by_name("conv1d-classifier").unwrap(),
        binary,
        ModelKind::by_name("cifar-inception").unwrap(),
    ]
}

fn targets(classes: usize, device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = (0..BATCH).map(|i| (i % classes) as i64).collect();
    Tensor::from_data(TensorData::new(values, [BATCH]), device)
}

fn bench_one<B: LabeledBatch>(
    c: &mut Criterion,
    name: &str,
    backend: &str,
    model: Model,
    task: Task,
    make: impl Fn(&Device) -> B,
    device: &Device,
) where
    Model: Classify<B::Inputs>,
{
    let group_name = format!("{name}/{backend}");
    let mut group = c.benchmark_group(&group_name);
    group.sample_size(10);
    let classifier = Classifier::<Model, B>::new(model, task, ClipConfig::default());
    let inference = burn::module::Module::valid(&classifier);
    group.bench_function(BenchmarkId::new("forward", BATCH), |b| {
        b.iter(|| {
            let (inputs, _) = make(device).into_parts();
            let logits = inference.model.logits(inputs);
            logits.into_data()
        })
    });
    let autodiff = device.clone().autodiff();
    let mut optimizer: ModuleOptimizer = build_optimizer(&OptimizerConfig::default());
    let mut model = classifier;
    group.bench_function(BenchmarkId::new("train_step", BATCH), |b| {
        b.iter(|| {
            let output = TrainStep::step(&model, make(&autodiff));
            model = optimizer.step(1e-6, model.clone(), output.grads);
            output.item.losses.into_data()
        })
    });
    group.finish();
}

fn models(c: &mut Criterion) {
    for kind in kinds() {
        let spec = kind.data_spec().unwrap();
        for (backend, device) in devices() {
            let model = kind.init(&device.clone().autodiff()).unwrap();
            let classes = spec.classes;
            let task = kind.task().unwrap();
            match spec.shape.as_slice() {
                &[ch, h, w] => bench_one(
                    c,
                    kind.name(),
                    backend,
                    model,
                    task,
                    |d: &Device| {
                        ImageBatch::new(
                            Tensor::random([BATCH, ch, h, w], Distribution::Default, d),
                            targets(classes, d),
                        )
                    },
                    &device,
                ),
                &[ch, l] => bench_one(
                    c,
                    kind.name(),
                    backend,
                    model,
                    task,
                    |d: &Device| {
                        SequenceBatch::new(
                            Tensor::random([BATCH, ch, l], Distribution::Default, d),
                            targets(classes, d),
                        )
                    },
                    &device,
                ),
                other => panic!("no batch for shape {other:?}"),
            }
        }
    }
}

/// The minimal reproduction of Flex's convolution cost, Burn only (the book, "Kernel measurements", "For Burn"): the
/// Inception module's 3×3 convolution (96 → 128 channels, 14×14, "same" padding) at batch 64,
/// forward and backward; `bench/peer/conv_layer.py` times the same layer in PyTorch.
fn conv_layer(c: &mut Criterion) {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    let mut group = c.benchmark_group("conv2d-96-128-3x3-14x14-b64");
    group.sample_size(10);
    let device = Device::flex().autodiff();
    let conv = Conv2dConfig::new([96, 128], [3, 3])
        .with_padding(PaddingConfig2d::Same)
        .init(&device);
    let input =
        Tensor::<4>::random([64, 96, 14, 14], Distribution::Default, &device).require_grad();
    group.bench_function("flex/forward", |b| {
        b.iter(|| conv.forward(input.clone().detach()).into_data())
    });
    group.bench_function("flex/forward_backward", |b| {
        b.iter(|| {
            let grads = conv.forward(input.clone()).sum().backward();
            input.grad(&grads).map(|g| g.into_data())
        })
    });
    // The two gradients as Burn's generic backward computes them (Flex overrides neither):
    // the input's by a transposed convolution, the weight's by a convolution of the input and
    // the output gradient with batch and channels swapped (a 14x14 "kernel", 3x3 output).
    {
        use burn::tensor::module::{conv_transpose2d, conv2d};
        use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
        let x = input.clone().detach();
        let dy = conv.forward(x.clone()).detach().ones_like();
        let weight = conv.weight.val().detach();
        group.bench_function("flex/input_grad_as_burn_does", |b| {
            b.iter(|| {
                let options = ConvTransposeOptions::new([1, 1], [1, 1], [0, 0], [1, 1], 1);
                conv_transpose2d(dy.clone(), weight.clone(), None, options).into_data()
            })
        });
        group.bench_function("flex/weight_grad_as_burn_does", |b| {
            b.iter(|| {
                let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
                conv2d(
                    x.clone().swap_dims(0, 1),
                    dy.clone().swap_dims(0, 1),
                    None,
                    options,
                )
                .swap_dims(0, 1)
                .into_data()
            })
        });
    }
    // burn-zoo's own backward on Flex (crate zoo-kernels: im2col + GEMM), what the models use.
    group.bench_function("flex/zoo_kernels_forward_backward", |b| {
        b.iter(|| {
            let grads = zoo_kernels::conv2d_module(&conv, input.clone())
                .sum()
                .backward();
            input.grad(&grads).map(|g| g.into_data())
        })
    });
    // Its two gradient kernels alone, on the same values (compare with the `*_as_burn_does`).
    {
        use zoo_kernels::conv2d::{Conv2dGeometry, forward, input_grad, weight_grad};
        let geometry = Conv2dGeometry {
            batch: 64,
            channels_in: 96,
            channels_out: 128,
            input: [14, 14],
            kernel: [3, 3],
            stride: [1, 1],
            padding: [(1, 1), (1, 1)],
            dilation: [1, 1],
        };
        let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        let x = values(input.clone().detach());
        let dy = values(conv.forward(input.clone().detach()).ones_like());
        let weight = values(conv.weight.val().detach());
        let bias = conv
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        group.bench_function("flex/zoo_kernels_forward", |b| {
            b.iter(|| forward(&x, &weight, Some(&bias), &geometry))
        });
        group.bench_function("flex/zoo_kernels_input_grad", |b| {
            b.iter(|| input_grad(&weight, &dy, &geometry))
        });
        group.bench_function("flex/zoo_kernels_weight_grad", |b| {
            b.iter(|| weight_grad(&x, &dy, &geometry))
        });
    }
    // The workaround tried in the model instead (the book, "Kernel measurements"): the same convolution as nine
    // shifted slices and one matrix product, so that autodiff's backward is GEMMs and slice
    // scatters rather than Flex's transposed convolution. It is slower both ways.
    let (weight, bias) = (conv.weight.val(), conv.bias.as_ref().unwrap().val());
    let expected = conv.forward(input.clone().detach());
    let got = im2col_conv(input.clone().detach(), weight.clone(), bias.clone());
    let diff: f32 = (expected - got).abs().max().into_scalar();
    assert!(diff < 1e-4, "im2col_conv differs from Conv2d by {diff}");
    group.bench_function("flex/im2col_forward_backward", |b| {
        b.iter(|| {
            let grads = im2col_conv(input.clone(), weight.clone(), bias.clone())
                .sum()
                .backward();
            input.grad(&grads).map(|g| g.into_data())
        })
    });
    group.finish();
}

/// A stride-1 "same" convolution with an odd square kernel as slices + one matrix product.
fn im2col_conv(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let [o, _, k, _] = weight.dims();
    let p = k / 2;
    let padded = x.pad((p, p, p, p), burn::tensor::ops::PadMode::Constant(0.0));
    let mut shifted = Vec::with_capacity(k * k);
    for i in 0..k {
        for j in 0..k {
            shifted.push(padded.clone().slice([0..n, 0..c, i..i + h, j..j + w]));
        }
    }
    let columns = Tensor::<4>::stack::<5>(shifted, 2).reshape([n, c * k * k, h * w]);
    let out = weight.reshape([1, o, c * k * k]).matmul(columns);
    out.reshape([n, o, h, w]) + bias.reshape([1, o, 1, 1])
}

/// conv1d-classifier's first max-pool (`zoo bench conv1d-classifier --batch 32 --layers` shows
/// its three pools at over half of the forward pass on Flex): Burn's `MaxPool1d` beside the same
/// pooling as a reshape and `max_dim`, forward, then forward and backward
/// (`bench/peer/conv_layer.py` times PyTorch's forward).
fn pool_layer(c: &mut Criterion) {
    use burn::nn::pool::MaxPool1dConfig;
    let mut group = c.benchmark_group("max_pool1d-2-32x16x498");
    group.sample_size(20);
    let device = Device::flex();
    let pool = MaxPool1dConfig::new(2).init();
    let x = Tensor::<3>::random([32, 16, 498], Distribution::Default, &device);
    let reshaped = |x: Tensor<3>| {
        x.reshape([32, 16, 249, 2])
            .max_dim(3)
            .reshape([32, 16, 249])
    };
    let diff: f32 = (pool.forward(x.clone()) - reshaped(x.clone()))
        .abs()
        .max()
        .into_scalar();
    assert_eq!(diff, 0.0, "the reshaped max-pool differs");
    group.bench_function("flex/max_pool1d", |b| {
        b.iter(|| pool.forward(x.clone()).into_data())
    });
    group.bench_function("flex/reshape_max_dim", |b| {
        b.iter(|| reshaped(x.clone()).into_data())
    });
    group.bench_function("flex/zoo_kernels", |b| {
        b.iter(|| zoo_kernels::max_pool1d_module(&pool, x.clone()).into_data())
    });
    {
        use zoo_kernels::pool::{Pool2dGeometry, max_pool2d};
        let values = x.clone().into_data().try_to_vec::<f32>().unwrap();
        let geometry = Pool2dGeometry {
            planes: 32 * 16,
            input: [1, 498],
            kernel: [1, 2],
            stride: [1, 2],
            padding: [0, 0],
            dilation: [1, 1],
        };
        group.bench_function("zoo_kernels_slices", |b| {
            b.iter(|| max_pool2d(&values, &geometry, false))
        });
    }
    // With autodiff, forward and backward: here the reshape loses.
    let tracked = Tensor::<3>::random([32, 16, 498], Distribution::Default, &device.autodiff());
    group.bench_function("flex/max_pool1d_forward_backward", |b| {
        b.iter(|| {
            let x = tracked.clone().require_grad();
            let grads = pool.forward(x.clone()).sum().backward();
            x.grad(&grads).map(|g| g.into_data())
        })
    });
    group.bench_function("flex/zoo_kernels_forward_backward", |b| {
        b.iter(|| {
            let x = tracked.clone().require_grad();
            let grads = zoo_kernels::max_pool1d_module(&pool, x.clone())
                .sum()
                .backward();
            x.grad(&grads).map(|g| g.into_data())
        })
    });
    group.bench_function("flex/reshape_max_dim_forward_backward", |b| {
        b.iter(|| {
            let x = tracked.clone().require_grad();
            let grads = reshaped(x.clone()).sum().backward();
            x.grad(&grads).map(|g| g.into_data())
        })
    });
    group.finish();
}

criterion_group!(benches, models, conv_layer, pool_layer);
criterion_main!(benches);
