//! Bad inputs, table-driven: every file format zoo reads, every config table and every
//! subcommand, each with the error substring it must give. Every case must fail cleanly
//! (exit 1 or 2, an `error:` line, no panic); the totals per class are in the README
//! ("Bad inputs").
//!
//! One fixture tree is built per test run (small IDX, `.ts`, image-folder and CIFAR files, a
//! trained run directory and damaged copies of it); all cases of a class run and the failures
//! are reported together.

use std::io::Write;
use std::path::{Path, PathBuf};

use zoo_tests::{Run, workspace_root, zoo, zoo_with_env};

/// One bad input: what it is, the command line, the substring the error must contain.
struct Case {
    name: &'static str,
    args: Vec<String>,
    expect: &'static str,
}

fn case(name: &'static str, args: &[&str], expect: &'static str) -> Case {
    Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        expect,
    }
}

/// Runs every case of `class`; panics listing each one that did not fail cleanly with its
/// substring.
fn check(class: &str, cases: Vec<Case>) -> usize {
    let mut failures = Vec::new();
    let count = cases.len();
    for case in cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        // One memory size for every machine, so that the size checks answer alike everywhere.
        let run = zoo_with_env(&args, &[("ZOO_MEMORY_LIMIT", "4GiB")]);
        let clean = matches!(run.code, Some(1 | 2))
            && run.stderr.contains("error")
            && !run.stderr.contains("panicked")
            && run.stderr.contains(case.expect);
        if !clean {
            failures.push(format!(
                "--- {} (expected `{}`): zoo {}\n{}",
                case.name,
                case.expect,
                args.join(" "),
                short(&run)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} bad inputs ({class}) were not clear errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{class}: {count} bad inputs, each a clear error");
    count
}

fn short(run: &Run) -> String {
    let tail = |text: &str| {
        let start = text.len().saturating_sub(600);
        text[text.floor_char_boundary(start)..].to_string()
    };
    format!(
        "exit {:?}; stderr: {}; stdout: {}",
        run.code,
        tail(&run.stderr),
        tail(&run.stdout)
    )
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn idx(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend_from_slice(payload);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// An IDX directory: `train` items of `size`×`size` and `test` items of `test_size`, labels
/// `i % classes`.
fn idx_dir(dir: &Path, train: u32, size: u32, test: u32, test_size: u32, classes: u8) {
    for (prefix, count, side) in [("train", train, size), ("t10k", test, test_size)] {
        let pixels: Vec<u8> = (0..count * side * side)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let labels: Vec<u8> = (0..count).map(|i| i as u8 % classes).collect();
        write(
            &dir.join(format!("{prefix}-images-idx3-ubyte")),
            &idx(2051, &[count, side, side], &pixels),
        );
        write(
            &dir.join(format!("{prefix}-labels-idx1-ubyte")),
            &idx(2049, &[count], &labels),
        );
    }
}

/// A `.ts` file of `cases` cases with two dimensions of 10 values; `value` replaces the
/// first value of the first case, `label` its label.
fn ts_text(cases: usize, value: &str, label: &str) -> String {
    let mut text = String::from(
        "@problemName Toy\n@timeStamps false\n@univariate false\n@dimensions 2\n\
         @equalLength true\n@seriesLength 10\n@classLabel true a b c\n@data\n",
    );
    for case in 0..cases {
        let series = |offset: usize| {
            (0..10)
                .map(|i| {
                    if case == 0 && i == 0 && offset == 0 {
                        value.to_string()
                    } else {
                        format!("{}", (i + offset + case) as f32 * 0.5)
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let class = if case == 0 {
            label.to_string()
        } else {
            ["a", "b", "c"][case % 3].to_string()
        };
        text.push_str(&format!("{}:{}:{class}\n", series(0), series(3)));
    }
    text
}

fn ts_dir(dir: &Path, train: &str, test: &str) {
    write(&dir.join("Toy_TRAIN.ts"), train.as_bytes());
    write(&dir.join("Toy_TEST.ts"), test.as_bytes());
}

fn png(path: &Path, side: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::GrayImage::from_fn(side, side, |x, y| image::Luma([(x * 16 + y) as u8]))
        .save(path)
        .unwrap();
}

/// The fixture tree, built once.
struct Fixtures {
    root: tempfile::TempDir,
}

impl Fixtures {
    fn path(&self, rest: &str) -> String {
        self.root.path().join(rest).display().to_string()
    }

    /// `--set data.dir="<path>"`.
    fn dir(&self, rest: &str) -> String {
        format!("data.dir=\"{}\"", self.path(rest))
    }
}

fn fixtures() -> Fixtures {
    let root = tempfile::tempdir().unwrap();
    let p = |rest: &str| root.path().join(rest);
    // IDX
    idx_dir(&p("idx/good"), 60, 28, 20, 28, 10);
    idx_dir(&p("idx/small"), 60, 14, 20, 14, 10);
    idx_dir(&p("idx/test-size"), 60, 28, 20, 14, 10);
    idx_dir(&p("idx/empty"), 0, 28, 20, 28, 10);
    idx_dir(&p("idx/labels-12"), 60, 28, 20, 28, 13);
    idx_dir(&p("idx/bad-magic"), 60, 28, 20, 28, 10);
    write(
        &p("idx/bad-magic/train-images-idx3-ubyte"),
        &idx(2049, &[60, 28, 28], &[0; 60 * 784]),
    );
    idx_dir(&p("idx/truncated"), 60, 28, 20, 28, 10);
    write(
        &p("idx/truncated/train-images-idx3-ubyte"),
        &idx(2051, &[60, 28, 28], &[0; 1000]),
    );
    idx_dir(&p("idx/short-header"), 60, 28, 20, 28, 10);
    write(&p("idx/short-header/train-images-idx3-ubyte"), &[0, 0, 8]);
    idx_dir(&p("idx/label-count"), 60, 28, 20, 28, 10);
    write(
        &p("idx/label-count/train-labels-idx1-ubyte"),
        &idx(2049, &[59], &[0; 59]),
    );
    idx_dir(&p("idx/bomb"), 60, 28, 20, 28, 10);
    std::fs::remove_file(p("idx/bomb/train-images-idx3-ubyte")).unwrap();
    // The header says 60 images; the stream inflates to 64 MiB.
    let bomb = idx(2051, &[60, 28, 28], &vec![0u8; 64 << 20]);
    write(&p("idx/bomb/train-images-idx3-ubyte.gz"), &gzip(&bomb));
    idx_dir(&p("idx/corrupt-gz"), 60, 28, 20, 28, 10);
    std::fs::remove_file(p("idx/corrupt-gz/train-labels-idx1-ubyte")).unwrap();
    let mut corrupt = gzip(&idx(2049, &[60], &[1; 60]));
    let middle = corrupt.len() / 2;
    corrupt.truncate(middle);
    write(&p("idx/corrupt-gz/train-labels-idx1-ubyte.gz"), &corrupt);
    write(&p("idx/a-file"), b"not a directory");
    std::fs::create_dir_all(p("idx/nothing")).unwrap();
    // .ts
    let good = ts_text(12, "0.5", "a");
    ts_dir(&p("ts/good"), &good, &good);
    ts_dir(&p("ts/nan"), &ts_text(12, "NaN", "a"), &good);
    ts_dir(&p("ts/inf"), &good, &ts_text(12, "inf", "a"));
    ts_dir(&p("ts/overflow"), &ts_text(12, "1e999", "a"), &good);
    ts_dir(&p("ts/word"), &ts_text(12, "twelve", "a"), &good);
    ts_dir(&p("ts/label"), &ts_text(12, "0.5", "zebra"), &good);
    ts_dir(
        &p("ts/no-data"),
        "@problemName Toy\n@classLabel true a b c\n",
        &good,
    );
    ts_dir(
        &p("ts/no-cases"),
        "@problemName Toy\n@classLabel true a b c\n@data\n",
        &good,
    );
    ts_dir(
        &p("ts/dims"),
        &good.replacen("@dimensions 2", "@dimensions 3", 1),
        &good,
    );
    std::fs::create_dir_all(p("ts/missing")).unwrap();
    // Image folders
    for class in ["cat", "dog"] {
        for i in 0..4 {
            png(&p(&format!("img/good/{class}/{i}.png")), 12);
        }
    }
    std::fs::create_dir_all(p("img/empty")).unwrap();
    png(&p("img/empty-class/cat/0.png"), 12);
    std::fs::create_dir_all(p("img/empty-class/dog")).unwrap();
    for class in ["a", "b", "c"] {
        png(&p(&format!("img/three/{class}/0.png")), 12);
    }
    for class in ["cat", "dog"] {
        png(&p(&format!("img/corrupt/{class}/0.png")), 12);
    }
    write(
        &p("img/corrupt/cat/1.png"),
        b"\x89PNG\r\n\x1a\nthis is not a png",
    );
    // Entries an image folder cannot read: an image that is a link to nothing, a class
    // directory that is one, a directory named like an image.
    for class in ["cat", "dog"] {
        png(&p(&format!("img/dangling/{class}/0.png")), 12);
        png(&p(&format!("img/class-link/{class}/0.png")), 12);
        png(&p(&format!("img/dir-image/{class}/0.png")), 12);
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(p("img/deleted.png"), p("img/dangling/cat/1.png")).unwrap();
        std::os::unix::fs::symlink(p("img/moved-away"), p("img/class-link/ant")).unwrap();
    }
    std::fs::create_dir_all(p("img/dir-image/dog/1.png")).unwrap();
    // A PNG header claiming 100000 x 100000 pixels (the image crate's limits refuse it).
    let mut bomb = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bomb.extend(100_000u32.to_be_bytes());
    bomb.extend(100_000u32.to_be_bytes());
    bomb.extend([8, 0, 0, 0, 0, 0, 0, 0, 0]);
    for class in ["cat", "dog"] {
        png(&p(&format!("img/bomb/{class}/0.png")), 12);
    }
    write(&p("img/bomb/dog/1.png"), &bomb);
    // CIFAR-10 binary files: a record is a label byte and 3072 pixels.
    let record = |label: u8| {
        let mut bytes = vec![label];
        bytes.extend(vec![128u8; 3072]);
        bytes
    };
    for (name, files) in [
        ("cifar/truncated", [record(1), vec![0; 10]].concat()),
        ("cifar/label-11", [record(1), record(11)].concat()),
    ] {
        let dir = p(name);
        for file in [
            "data_batch_1.bin",
            "data_batch_2.bin",
            "data_batch_3.bin",
            "data_batch_4.bin",
            "data_batch_5.bin",
            "test_batch.bin",
        ] {
            write(&dir.join(file), &files);
        }
        write(
            &dir.join("batches.meta.txt"),
            b"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n",
        );
    }
    // A trained run (one epoch on the good IDX set), then damaged copies of it.
    let run = zoo(&[
        "train",
        "fashion-inception",
        "--set",
        "data.kind=\"idx\"",
        "--set",
        &format!("data.dir=\"{}\"", p("idx/good").display()),
        "--set",
        "train.epochs=2",
        "--set",
        "data.valid_fraction=0.2",
        "--out",
        &p("runs").display().to_string(),
    ])
    .success();
    let trained = std::fs::read_dir(p("runs/fashion-inception"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    drop(run);
    std::fs::rename(&trained, p("runs/fashion-inception/good")).unwrap();
    let good_run = p("runs/fashion-inception/good");
    let copy = |name: &str| {
        let to = p(&format!("runs/fashion-inception/{name}"));
        copy_dir(&good_run, &to);
        to
    };
    std::fs::remove_file(copy("no-config").join("config.toml")).unwrap();
    write(&copy("bad-config").join("config.toml"), b"[model\nkind = ");
    let no_model = copy("no-model");
    std::fs::remove_file(no_model.join("model.bpk")).unwrap();
    std::fs::remove_file(no_model.join("summary.json")).unwrap();
    write(&copy("bad-model").join("model.bpk"), b"not a burnpack file");
    write(&copy("bad-history").join("history.json"), b"{\"epochs\": [");
    let no_checkpoint = copy("no-checkpoint");
    std::fs::remove_dir_all(no_checkpoint.join("checkpoint")).unwrap();
    std::fs::remove_file(no_checkpoint.join("model.bpk")).unwrap();
    let config = std::fs::read_to_string(good_run.join("config.toml")).unwrap();
    write(
        &copy("nan-weights-config").join("config.toml"),
        config
            .replace("valid_fraction = 0.2", "valid_fraction = 0.0")
            .as_bytes(),
    );
    // One bit flipped in the middle of the weights: Burn reads it as another weight value.
    let flip = |path: PathBuf| {
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x10;
        write(&path, &bytes);
    };
    flip(copy("flipped-bit").join("model.bpk"));
    // preprocess.json (written by the trainer): damaged, and from a run of another shape.
    write(
        &copy("bad-preprocess").join("preprocess.json"),
        b"{\"shape\": [1, 28",
    );
    let preprocess = std::fs::read_to_string(good_run.join("preprocess.json")).unwrap();
    write(
        &copy("other-preprocess").join("preprocess.json"),
        preprocess.replacen("1,", "3,", 1).as_bytes(),
    );
    let shipped = p("shipped/japanese-vowels");
    copy_dir(&workspace_root().join("weights/japanese-vowels"), &shipped);
    flip(shipped.join("model.bpk"));
    write(&p("not-an-image.png"), b"plain text");
    write(&p("garbage.pt"), b"PK\x03\x04 not really a zip");
    write(
        &p("garbage.weights.h5"),
        b"\x89HDF\r\n\x1a\n and then nothing",
    );
    Fixtures { root }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A TOML file in the fixture tree.
fn toml_file(fixtures: &Fixtures, name: &str, text: &str) -> String {
    let path = PathBuf::from(fixtures.path(&format!("configs/{name}.toml")));
    write(&path, text.as_bytes());
    path.display().to_string()
}

#[test]
fn every_bad_input_is_a_clear_error() {
    let f = fixtures();
    let fashion = "fashion-inception";
    let conv1d = "conv1d-classifier";
    let mut total = 0;

    // Config files: syntax, keys, types, ranges, combinations (`zoo config` reads and checks).
    let minimal = "[model]\nkind = \"cifar-inception\"\n";
    let file = |name: &'static str, text: String| toml_file(&f, name, &text);
    let configs = vec![
        (
            file("syntax", "[model\nkind = 1\n".into()),
            "syntax.toml:1:",
        ),
        (
            file("unknown-table", format!("{minimal}[modle]\nx = 1\n")),
            "unknown field `modle`",
        ),
        (
            file("model-kind", "[model]\nkind = \"resnet\"\n".into()),
            "unknown variant `resnet`",
        ),
        (
            file("model-key", format!("{minimal}filters = 3\n")),
            "unknown field `filters`",
        ),
        (
            file("model-type", format!("{minimal}image_size = \"big\"\n")),
            "invalid type",
        ),
        (
            file("no-model", "[train]\nepochs = 1\n".into()),
            "missing field `model`",
        ),
        (
            file(
                "adam-momentum",
                format!("{minimal}[optimizer]\nkind = \"adam\"\nmomentum = 0.9\n"),
            ),
            "adam-momentum.toml:5:1 (key `optimizer.momentum`)",
        ),
        (
            file(
                "constant-gamma",
                format!("{minimal}[schedule]\nkind = \"constant\"\ngamma = 0.5\n"),
            ),
            "constant-gamma.toml:5:1 (key `schedule.gamma`)",
        ),
        (
            file(
                "folder-url",
                format!("{minimal}[data]\nkind = \"image-folder\"\nurl = \"http://x\"\n"),
            ),
            "does not apply to kind = \"image-folder\"",
        ),
        (
            file(
                "mean-channels",
                format!("{minimal}[data]\nkind = \"cifar10\"\nmean = [0.5]\nstd = [0.5]\n"),
            ),
            "mean-channels.toml:5:1 (key `data.mean`): data.mean has 1 value(s)",
        ),
        (
            file(
                "duplicate",
                format!("{minimal}[train]\nepochs = 1\nepochs = 2\n"),
            ),
            "duplicate key",
        ),
        (file("empty", String::new()), "missing field `model`"),
        (file("binary", "\u{0}\u{1}\u{2}".into()), "binary.toml:1:"),
        (
            file("description", format!("description = 3\n{minimal}")),
            "description.toml:1:15 (key `description`): invalid type: integer `3`",
        ),
    ];
    total += check(
        "config files",
        configs
            .iter()
            .map(|(path, expect)| Case {
                name: "config file",
                args: vec!["config".into(), path.clone()],
                expect,
            })
            .collect(),
    );

    // Every table through --set (the same checks as in a file, blamed on the override).
    let set = |name: &'static str, experiment: &str, value: &str, expect: &'static str| {
        case(name, &["config", experiment, "--set", value], expect)
    };
    total += check(
        "--set on every table",
        vec![
            case(
                "unknown experiment",
                &["config", "fashion-inceptoin"],
                "did you mean `fashion-inception`",
            ),
            case(
                "missing file",
                &["config", "nowhere/x.toml"],
                "cannot read nowhere/x.toml",
            ),
            set("no =", fashion, "train.epochs", "expected KEY=VALUE"),
            set("empty key part", fashion, "train..epochs=1", "dotted names"),
            set(
                "into a value",
                fashion,
                "train.epochs.x=1",
                "is a value, not a table",
            ),
            set(
                "unknown key",
                fashion,
                "train.epoch=1",
                "unknown field `epoch`",
            ),
            set("wrong type", fashion, "train.epochs=abc", "expected usize"),
            set(
                "epochs 0",
                fashion,
                "train.epochs=0",
                "train.epochs must be at least 1",
            ),
            set(
                "batch 0",
                fashion,
                "train.batch_size=0",
                "train.batch_size must be at least 1",
            ),
            set(
                "batch negative",
                fashion,
                "train.batch_size=-3",
                "positive number of items",
            ),
            set(
                "batch word",
                fashion,
                "train.batch_size=\"all\"",
                "positive number of items or \"full\"",
            ),
            set(
                "last batch word",
                fashion,
                "train.last_batch=\"pad\"",
                "unknown variant `pad`, expected one of `auto`, `keep`, `drop`",
            ),
            set(
                "early stopping 0",
                fashion,
                "train.early_stopping=0",
                "train.early_stopping must be at least 1",
            ),
            set(
                "optimizer kind",
                fashion,
                "optimizer.kind=\"lbfgs\"",
                "unknown variant `lbfgs`",
            ),
            set(
                "lr negative",
                fashion,
                "optimizer.lr=-1",
                "optimizer.lr must be a positive number",
            ),
            set(
                "lr nan",
                fashion,
                "optimizer.lr=nan",
                "optimizer.lr must be a positive number",
            ),
            set(
                "lr inf",
                fashion,
                "optimizer.lr=inf",
                "optimizer.lr must be a positive number",
            ),
            set(
                "weight decay",
                fashion,
                "optimizer.weight_decay=-1",
                "optimizer.weight_decay must be zero or positive",
            ),
            set(
                "nesterov with adam",
                fashion,
                "optimizer.nesterov=true",
                "does not apply to kind = \"adam\"",
            ),
            set(
                "momentum with adam",
                fashion,
                "optimizer.momentum=0.9",
                "does not apply to kind = \"adam\"",
            ),
            set(
                "momentum with adamw",
                fashion,
                "optimizer.momentum=0.9",
                "does not apply to kind = \"adam\"",
            ),
            set(
                "schedule kind",
                fashion,
                "schedule.kind=\"linear\"",
                "unknown variant `linear`",
            ),
            set(
                "gamma with constant",
                fashion,
                "schedule.gamma=0.5",
                "does not apply to kind = \"constant\"",
            ),
            set(
                "min_lr with constant",
                fashion,
                "schedule.min_lr=0.1",
                "does not apply to kind = \"constant\"",
            ),
            set(
                "clip norm 0",
                fashion,
                "clip.max_norm=0",
                "clip.max_norm must be a positive number",
            ),
            set(
                "clip value",
                fashion,
                "clip.value=-1",
                "clip.value must be a positive number",
            ),
            set("clip key", fashion, "clip.norm=1", "unknown field `norm`"),
            set(
                "guard ratio",
                fashion,
                "guard.max_loss_ratio=0.5",
                "guard.max_loss_ratio must be 0 (off) or above 1",
            ),
            set(
                "guard smoothing",
                fashion,
                "guard.smoothing_steps=0",
                "guard.smoothing_steps must be at least 1",
            ),
            set(
                "guard patience",
                fashion,
                "guard.patience_steps=0",
                "guard.patience_steps must be at least 1",
            ),
            set(
                "plateau delta",
                fashion,
                "guard.plateau_min_delta=-1",
                "guard.plateau_min_delta must be zero or positive",
            ),
            set(
                "backend kind",
                fashion,
                "backend.kind=\"tpu\"",
                "unknown variant `tpu`",
            ),
            set(
                "backend key",
                fashion,
                "backend.gpu=0",
                "unknown field `gpu`",
            ),
            case(
                "mean on the 0-255 scale",
                &[
                    "config",
                    "cifar-inception",
                    "--set",
                    "data.mean=[125.3,123.0,113.9]",
                    "--set",
                    "data.std=[63.0,62.1,66.7]",
                ],
                "data.mean is on the [0, 1] scale",
            ),
            case(
                "mean with normalize unit",
                &[
                    "config",
                    fashion,
                    "--set",
                    "data.normalize=\"unit\"",
                    "--set",
                    "data.mean=[0.5]",
                    "--set",
                    "data.std=[0.5]",
                ],
                "apply to normalize = \"standardize\", not \"unit\"",
            ),
            case(
                "warm-up of 0 epochs",
                &[
                    "config",
                    fashion,
                    "--set",
                    "schedule.kind=\"warmup-cosine\"",
                    "--set",
                    "schedule.warmup_epochs=0",
                    "--set",
                    "train.epochs=3",
                ],
                "schedule.warmup_epochs must be at least 1",
            ),
            set(
                "gpu index on the CPU",
                fashion,
                "backend.index=1",
                "backend.index picks a GPU, but `flex` runs on the CPU",
            ),
            set(
                "ddp without collectives",
                fashion,
                "backend.strategy=\"ddp\"",
                "backend.strategy = \"ddp\" needs collective operations",
            ),
            set(
                "unknown strategy",
                fashion,
                "backend.strategy=\"ring\"",
                "backend.strategy",
            ),
            set(
                "remote without hosts",
                fashion,
                "backend.kind=\"remote\"",
                "backend.hosts is empty",
            ),
            set(
                "hosts on a local backend",
                fashion,
                "backend.hosts=[\"ws://127.0.0.1:3000\"]",
                "backend.hosts goes with kind = \"remote\"",
            ),
            set(
                "a device twice",
                fashion,
                "backend.devices=[1, 1]",
                "backend.devices lists device 1 twice",
            ),
            set(
                "workers",
                fashion,
                "train.num_workers=100000",
                "train.num_workers = 100000 data-loading threads",
            ),
            set(
                "one class",
                fashion,
                "model.num_classes=1",
                "needs at least 2 classes",
            ),
            set(
                "data kind",
                fashion,
                "data.kind=\"mnist\"",
                "unknown variant `mnist`",
            ),
            set(
                "valid fraction 1",
                fashion,
                "data.valid_fraction=1.0",
                "data.valid_fraction must be in [0, 1)",
            ),
            set(
                "valid fraction nan",
                fashion,
                "data.valid_fraction=nan",
                "data.valid_fraction must be in [0, 1)",
            ),
            set(
                "limit 0",
                fashion,
                "data.limit=0",
                "data.limit must be at least 1",
            ),
            set(
                "mean without std",
                fashion,
                "data.mean=[0.5]",
                "data.mean and data.std go together",
            ),
            set(
                "series with fashion",
                fashion,
                "data.series=\"pad\"",
                "does not apply to kind = \"fashion-mnist\"",
            ),
            set(
                "augment on sequences",
                conv1d,
                "data.augment=true",
                "data.augment applies to images",
            ),
            set(
                "mean on sequences",
                conv1d,
                "data.normalize=\"unit\"",
                "data.normalize applies to images",
            ),
            set(
                "synthetic items 0",
                conv1d,
                "data.synthetic_items=0",
                "data.synthetic_items must be at least 1",
            ),
            set(
                "model key",
                fashion,
                "model.depth=3",
                "unknown field `depth`",
            ),
            set("image size 0", fashion, "model.image_size=0", "image_size"),
            set("classes 0", fashion, "model.num_classes=0", "num_classes"),
            set("length 0", conv1d, "model.length=0", "length"),
            set(
                "huge image",
                fashion,
                "model.image_size=100000000",
                "would take",
            ),
            set(
                "huge batch",
                fashion,
                "train.batch_size=100000000",
                "train.batch_size: one batch",
            ),
            set(
                "huge synthetic",
                conv1d,
                "data.synthetic_items=100000000000",
                "data.synthetic_items",
            ),
        ],
    );

    // Data files, loaded by `zoo data` (and the same loader by train/eval/predict).
    // `zoo data <prefix…> --set data.dir="<fixture dir>"`.
    let with_dir = |prefix: &[&str], name: &'static str, dir: &str, expect: &'static str| Case {
        name,
        args: prefix
            .iter()
            .map(|s| s.to_string())
            .chain(["--set".to_string(), f.dir(dir)])
            .collect(),
        expect,
    };
    let idx_prefix = ["data", fashion, "--set", "data.kind=\"idx\""];
    let ts_prefix = [
        "data",
        conv1d,
        "--set",
        "data.kind=\"ts\"",
        "--set",
        "model.in_channels=2",
        "--set",
        "model.length=64",
        "--set",
        "model.num_classes=3",
        "--set",
        "model.kernel_sizes=[3,3,3]",
    ];
    let folder_prefix = [
        "data",
        fashion,
        "--set",
        "data.kind=\"image-folder\"",
        "--set",
        "model.num_classes=2",
    ];
    let idx = |name, dir, expect| with_dir(&idx_prefix, name, dir, expect);
    let ts = |name, dir, expect| with_dir(&ts_prefix, name, dir, expect);
    let folder = |name, dir, expect| with_dir(&folder_prefix, name, dir, expect);
    let cifar = |name, dir, expect| with_dir(&["data", "cifar-inception"], name, dir, expect);
    total += check(
        "data files",
        vec![
            idx("idx missing dir", "idx/absent", "cannot read"),
            idx("idx dir is a file", "idx/a-file", "cannot read"),
            idx("idx empty dir", "idx/nothing", "cannot read"),
            idx(
                "idx bad magic",
                "idx/bad-magic",
                "bad IDX magic number 2049 (expected 2051)",
            ),
            idx(
                "idx truncated",
                "idx/truncated",
                "but the file has 1000 bytes of data",
            ),
            idx(
                "idx short header",
                "idx/short-header",
                "shorter than an IDX header",
            ),
            idx("idx label count", "idx/label-count", "59 labels but"),
            idx(
                "idx labels out of range",
                "idx/labels-12",
                "has labels up to 12",
            ),
            idx(
                "idx test size",
                "idx/test-size",
                "test images are 14×14 but the training images are 28×28",
            ),
            idx(
                "idx image size vs model",
                "idx/small",
                "gives items of shape [1, 14, 14]",
            ),
            idx("idx gzip bomb", "idx/bomb", "but the file holds more"),
            idx("idx corrupt gzip", "idx/corrupt-gz", "corrupt gzip data"),
            idx(
                "idx no training items",
                "idx/empty",
                "the training split is empty",
            ),
            Case {
                name: "validation fraction holds none out",
                args: [
                    "data",
                    fashion,
                    "--set",
                    "data.kind=\"idx\"",
                    "--set",
                    &f.dir("idx/good"),
                    "--set",
                    "data.limit=5",
                    "--set",
                    "data.valid_fraction=0.05",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                expect: "data.valid_fraction = 0.05 of 5 items holds none out",
            },
            case(
                "idx without dir",
                &["data", fashion, "--set", "data.kind=\"idx\""],
                "needs data.dir",
            ),
            ts("ts NaN", "ts/nan", "`NaN` is not a finite number"),
            ts("ts inf", "ts/inf", "`inf` is not a finite number"),
            ts(
                "ts overflow",
                "ts/overflow",
                "`1e999` is not a finite number",
            ),
            ts("ts word", "ts/word", "`twelve` is not a finite number"),
            ts(
                "ts unknown label",
                "ts/label",
                "class label `zebra` is not one of",
            ),
            ts("ts no @data", "ts/no-data", "no @data line"),
            ts("ts no cases", "ts/no-cases", "no cases after @data"),
            ts("ts dimensions", "ts/dims", "the header says @dimensions 3"),
            ts("ts no files", "ts/missing", "no file ending in _TRAIN.ts"),
            folder("folder no classes", "img/empty", "img/empty"),
            folder("folder corrupt image", "img/corrupt", "cannot decode image"),
            folder("folder PNG bomb", "img/bomb", "cannot decode image"),
            folder("folder missing", "img/absent", "cannot read"),
            folder(
                "folder image linked to nothing",
                "img/dangling",
                "1.png: a symbolic link to ",
            ),
            with_dir(
                &[&folder_prefix[..], &["--set", "data.skip_unreadable=false"]].concat(),
                "folder image linked to nothing, skip_unreadable = false",
                "img/dangling",
                "which cannot be read",
            ),
            folder(
                "folder class linked to nothing",
                "img/class-link",
                "its class would be missing and the labels",
            ),
            folder(
                "folder directory named like an image",
                "img/dir-image",
                "1.png: a directory with an image's name",
            ),
            folder(
                "folder class without images",
                "img/empty-class",
                "this class directory holds no png/jpg/jpeg/bmp image",
            ),
            folder(
                "folder classes vs model",
                "img/three",
                "has 3 class directories (a, b, c) but the model has 2 classes",
            ),
            cifar(
                "cifar truncated",
                "cifar/truncated",
                "not a multiple of the CIFAR-10 record size",
            ),
            cifar("cifar label 11", "cifar/label-11", "label 11"),
            Case {
                name: "fashion-mnist dir without its files",
                args: ["data", fashion, "--set", &f.dir("idx/nothing")]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                expect: "does not hold Fashion-MNIST",
            },
        ],
    );

    // Run directories: eval, predict, export, plot, resume.
    let run = |name: &str| f.path(&format!("runs/fashion-inception/{name}"));
    let good = run("good");
    total += check(
        "run directories",
        vec![
            case("eval missing run", &["eval", &run("absent")], "absent"),
            case(
                "eval no config",
                &["eval", &run("no-config")],
                "config.toml",
            ),
            case(
                "eval bad config",
                &["eval", &run("bad-config")],
                "config.toml:1:",
            ),
            case(
                "eval no model",
                &["eval", &run("no-model")],
                "no summary.json (the process was killed",
            ),
            case(
                "eval no checkpoint",
                &["eval", &run("no-checkpoint")],
                "no complete checkpoint",
            ),
            case("eval bad model", &["eval", &run("bad-model")], "model.bpk"),
            case(
                "eval one flipped bit",
                &["eval", &run("flipped-bit")],
                "model.bpk: checksum mismatch",
            ),
            case(
                "predict one flipped bit",
                &["predict", &run("flipped-bit"), &f.path("not-an-image.png")],
                "model.bpk: checksum mismatch",
            ),
            case(
                "export one flipped bit",
                &[
                    "export",
                    &run("flipped-bit"),
                    "--to",
                    &f.path("flipped.safetensors"),
                ],
                "model.bpk: checksum mismatch",
            ),
            case(
                "eval shipped weights with one flipped bit",
                &["eval", &f.path("shipped/japanese-vowels")],
                "model.bpk: checksum mismatch",
            ),
            {
                let mut preview = idx(
                    "preview into a missing directory",
                    "idx/good",
                    "cannot write",
                );
                preview
                    .args
                    .extend(["--preview".into(), f.path("absent-dir/grid.png")]);
                preview
            },
            case(
                "eval empty split",
                &["eval", &run("nan-weights-config"), "--split", "valid"],
                "the valid split is empty",
            ),
            case(
                "eval split name",
                &["eval", &good, "--split", "dev"],
                "invalid value 'dev'",
            ),
            case(
                "predict missing file",
                &["predict", &good, &f.path("absent.png")],
                "absent.png",
            ),
            case(
                "predict not an image",
                &["predict", &good, &f.path("not-an-image.png")],
                "not-an-image.png",
            ),
            case(
                "predict damaged preprocess.json",
                &[
                    "predict",
                    &run("bad-preprocess"),
                    &f.path("not-an-image.png"),
                ],
                "preprocess.json: not a preprocess.json",
            ),
            case(
                "predict preprocess.json of another run",
                &[
                    "predict",
                    &run("other-preprocess"),
                    &f.path("not-an-image.png"),
                ],
                "the file is from another run",
            ),
            case(
                "predict top 0",
                &["predict", &good, &f.path("not-an-image.png"), "--top", "0"],
                "--top",
            ),
            case(
                "export no model",
                &["export", &run("no-model"), "--to", &f.path("x.safetensors")],
                "has no model.bpk",
            ),
            case(
                "export bad model",
                &[
                    "export",
                    &run("bad-model"),
                    "--to",
                    &f.path("x.safetensors"),
                ],
                "model.bpk",
            ),
            case(
                "plot bad history",
                &["plot", &run("bad-history")],
                "not a history file",
            ),
            case("plot missing run", &["plot", &run("absent")], "absent"),
            case(
                "resume finished run",
                &["train", fashion, "--resume", &good],
                "already finished all 2 epochs",
            ),
            case(
                "resume with --set",
                &[
                    "train",
                    fashion,
                    "--resume",
                    &good,
                    "--set",
                    "train.epochs=3",
                ],
                "cannot change it",
            ),
            case(
                "resume with --out",
                &["train", fashion, "--resume", &good, "--out", "x"],
                "cannot be used with '--out",
            ),
            case(
                "resume other experiment",
                &["train", conv1d, "--resume", &good],
                "is a run of experiment `fashion-inception`, not `conv1d-classifier`",
            ),
            case(
                "resume no checkpoint",
                &["train", fashion, "--resume", &run("no-checkpoint")],
                "no intact complete checkpoint",
            ),
        ],
    );

    // Subcommands' own flags.
    total += check(
        "subcommand flags",
        vec![
            case(
                "unknown command",
                &["trian"],
                "unrecognized subcommand 'trian'",
            ),
            case(
                "bench batch 0",
                &["bench", "cifar-inception", "--batch", "0"],
                "--batch and --steps must be at least 1",
            ),
            case(
                "bench huge batch",
                &["bench", "cifar-inception", "--batch", "100000000"],
                "--batch: one batch of 100000000 inputs",
            ),
            case(
                "bench batch beyond memory",
                &["bench", "cifar-inception", "--batch", "100000"],
                "--batch: a training step on 100000 item(s)",
            ),
            case(
                "summary input beyond memory",
                &["summary", "cifar-inception", "--input", "3,4000,4000"],
                "--input (or the model's input size): a training step on 1 item(s)",
            ),
            case(
                "train activations beyond memory",
                &[
                    "train",
                    "conv1d-classifier",
                    "--set",
                    "model.length=1000000000",
                    "--set",
                    "train.batch_size=1",
                ],
                "would take",
            ),
            case(
                "bench not a classifier",
                &["bench", "conv-gap"],
                "not a classifier",
            ),
            case(
                "bench unknown",
                &["bench", "resnet"],
                "no experiment named `resnet`",
            ),
            case(
                "summary bad input",
                &["summary", "cifar-inception", "--input", "3x32"],
                "--input",
            ),
            case("summary unknown", &["summary", "resnet"], "resnet"),
            case(
                "train not a classifier",
                &[
                    "train",
                    &toml_file(&f, "gap", "[model]\nkind = \"conv-gap\"\n"),
                ],
                "not a classifier",
            ),
            case(
                "lr-find range",
                &["lr-find", conv1d, "--start", "1", "--end", "0.001"],
                "--start",
            ),
            case(
                "lr-find negative",
                &["lr-find", conv1d, "--start=-1"],
                "--start",
            ),
            case(
                "lr-find not a number",
                &["lr-find", conv1d, "--end", "big"],
                "invalid value 'big'",
            ),
            case("sweep no list", &["sweep", conv1d], "--set"),
            case(
                "saddle lr",
                &["saddle", "--lr=-1"],
                "--lr must be a positive number",
            ),
            case(
                "saddle lr nan",
                &["saddle", "--lr", "NaN"],
                "--lr must be a positive number",
            ),
            case(
                "saddle start outside",
                &["saddle", "--start", "5,5"],
                "inside the disc",
            ),
            case(
                "export a run with --set",
                &[
                    "export",
                    &good,
                    "--set",
                    "model.image_size=64",
                    "--to",
                    &f.path("x.safetensors"),
                ],
                "names its own model and config: drop --set",
            ),
            case(
                "sweep value twice",
                &["sweep", conv1d, "--set", "train.epochs=1,1"],
                "the value `1` is listed twice",
            ),
            case(
                "summary with a training key",
                &["summary", "cifar-inception", "--set", "train.epochs=3"],
                "unknown field `train`, expected `model`",
            ),
            case(
                "full batch beyond memory",
                &[
                    "lr-find",
                    conv1d,
                    "--set",
                    "train.batch_size=\"full\"",
                    "--set",
                    "data.synthetic_items=20000",
                ],
                "a training step on 16000 item(s)",
            ),
            case(
                "plot to a non-PNG name",
                &["plot", &good, "--out", &f.path("curves.txt")],
                "give a file name ending in .png",
            ),
            case(
                "preview to a non-PNG name",
                &["data", fashion, "--preview", &f.path("preview.jpg")],
                "give a file name ending in .png",
            ),
            case(
                "lr-find steps",
                &["lr-find", conv1d, "--steps", "3"],
                "--steps: at least 10 steps",
            ),
            case(
                "saddle steps",
                &["saddle", "--steps", "0"],
                "--steps must be at least 1",
            ),
            case(
                "backend flag",
                &["config", fashion, "--backend", "tpu"],
                "invalid value 'tpu'",
            ),
            case(
                "import missing",
                &[
                    "import",
                    &f.path("absent.safetensors"),
                    "--model",
                    "conv-gap",
                    "--to",
                    &f.path("x.bpk"),
                ],
                "absent.safetensors",
            ),
            case(
                "import not safetensors",
                &[
                    "import",
                    &f.path("not-an-image.png"),
                    "--model",
                    "conv-gap",
                    "--to",
                    &f.path("x.bpk"),
                ],
                "not-an-image.png",
            ),
            case(
                "import damaged .pt",
                &[
                    "import",
                    &f.path("garbage.pt"),
                    "--model",
                    "conv-gap",
                    "--to",
                    &f.path("x.bpk"),
                ],
                "garbage.pt",
            ),
            case(
                "import damaged .weights.h5",
                &[
                    "import",
                    &f.path("garbage.weights.h5"),
                    "--model",
                    "conv-gap",
                    "--to",
                    &f.path("x.bpk"),
                ],
                "garbage.weights.h5",
            ),
        ],
    );
    eprintln!("{total} bad inputs, each a clear error");
    let _ = workspace_root();
}

/// `zoo` relies on Burn's `BURN_DEVICE` (its `main` points it at the CPU when unset), and Burn
/// panics on a value naming no backend built in, at its first use: zoo refuses it up front.
#[test]
fn a_burn_device_override_naming_no_built_in_backend_is_a_clear_error() {
    for value in ["metal", "", "gpu"] {
        let run = zoo_with_env(&["list"], &[("BURN_DEVICE", value)]);
        assert_eq!(run.code, Some(2), "BURN_DEVICE={value:?}: {run}");
        assert!(
            run.stderr
                .contains(&format!("error: BURN_DEVICE={value:?}"))
                && run.stderr.contains("built in: flex, ndarray, wgpu")
                && !run.stderr.contains("panicked"),
            "{run}"
        );
    }
    // Burn reads the name case-insensitively; a built-in one is the user's choice, kept
    let run = zoo_with_env(&["list"], &[("BURN_DEVICE", "NdArray")]);
    assert_eq!(run.code, Some(0), "{run}");
}
