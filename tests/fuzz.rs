//! The property pass over the loaders and the config parser: seeds from the corpus
//! (`tests/fixtures/fuzz/`, the repository's configs, a real `.ts` file, IDX and CIFAR-10 byte
//! strings) are mutated, and every mutant must give a value or a clear error — never a panic,
//! never a non-finite value, and a config that parses must round-trip through TOML.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use zoo_cli::config::{ExperimentConfig, parse_with_overrides};
use zoo_data::ts::{self, SeriesLength};
use zoo_tests::workspace_root;

/// One edit of a seed.
#[derive(Debug, Clone)]
enum Edit {
    /// Delete the character at the position.
    Delete(usize),
    /// Insert a piece at the position.
    Insert(usize, &'static str),
    /// Delete the line at the position.
    DeleteLine(usize),
    /// Duplicate the line at the position.
    DuplicateLine(usize),
    /// Swap two lines.
    SwapLines(usize, usize),
    /// Replace the number found at or after the position with an extreme one.
    Number(usize, &'static str),
}

/// Pieces of syntax the formats care about.
const PIECES: &[&str] = &[
    "[",
    "]",
    "=",
    "\"",
    "\n",
    ".",
    ",",
    ":",
    "?",
    "-",
    "e",
    "9",
    "0",
    " ",
    "#",
    "a",
    "{",
    "}",
    "[model]\n",
    "[data]\n",
    "kind = \"sgd\"\n",
    "@data\n",
    "@dimensions 0\n",
    "\u{0}",
    "é",
];
/// Numbers at the edges.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1e999",
    "-1e999",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "4294967296",
    "18446744073709551616",
    "1e-320",
    "0.0",
    "100000000",
    "3.5",
    "true",
    "\"x\"",
];

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<usize>();
    prop_oneof![
        at.prop_map(Edit::Delete),
        (at, prop::sample::select(PIECES)).prop_map(|(a, p)| Edit::Insert(a, p)),
        at.prop_map(Edit::DeleteLine),
        at.prop_map(Edit::DuplicateLine),
        (at, any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (at, prop::sample::select(NUMBERS)).prop_map(|(a, n)| Edit::Number(a, n)),
    ]
}

/// `seed` with `edits` applied (on characters and lines, so it stays UTF-8).
fn mutate(seed: &str, edits: &[Edit]) -> String {
    let mut text = seed.to_string();
    for edit in edits {
        let chars: Vec<char> = text.chars().collect();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let n = chars.len().max(1);
        let l = lines.len().max(1);
        text = match edit {
            Edit::Delete(at) => {
                let at = at % n;
                chars
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != at)
                    .map(|(_, c)| c)
                    .collect()
            }
            Edit::Insert(at, piece) => {
                let at = at % (chars.len() + 1);
                let mut out: String = chars[..at].iter().collect();
                out.push_str(piece);
                out.extend(&chars[at..]);
                out
            }
            Edit::DeleteLine(at) => {
                if !lines.is_empty() {
                    lines.remove(at % l);
                }
                lines.join("\n")
            }
            Edit::DuplicateLine(at) => {
                if !lines.is_empty() {
                    let line = lines[at % l].clone();
                    lines.insert(at % l, line);
                }
                lines.join("\n")
            }
            Edit::SwapLines(a, b) => {
                if !lines.is_empty() {
                    lines.swap(a % l, b % l);
                }
                lines.join("\n")
            }
            Edit::Number(at, number) => {
                let start = (at % n..chars.len()).find(|&i| chars[i].is_ascii_digit());
                match start {
                    Some(start) => {
                        let end = (start..chars.len())
                            .find(|&i| !(chars[i].is_ascii_digit() || chars[i] == '.'))
                            .unwrap_or(chars.len());
                        let mut out: String = chars[..start].iter().collect();
                        out.push_str(number);
                        out.extend(&chars[end..]);
                        out
                    }
                    None => text,
                }
            }
        };
    }
    text
}

fn corpus_file(rest: &str) -> PathBuf {
    workspace_root().join(rest)
}

/// The config seeds: every experiment and every shipped run's config.
fn config_seeds() -> Vec<(PathBuf, String)> {
    let mut seeds = Vec::new();
    for dir in [
        "configs",
        "weights/fashion-inception",
        "weights/japanese-vowels",
    ] {
        for entry in std::fs::read_dir(corpus_file(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                seeds.push((path, text));
            }
        }
    }
    assert!(seeds.len() >= 8, "config seeds: {}", seeds.len());
    seeds
}

/// The `.ts` seeds: the corpus's toy file and the first cases of JapaneseVowels.
fn ts_seeds() -> Vec<String> {
    let toy = std::fs::read_to_string(corpus_file("tests/fixtures/fuzz/toy.ts")).unwrap();
    let vowels =
        std::fs::read_to_string(corpus_file("data/JapaneseVowels/JapaneseVowels_TRAIN.ts"))
            .unwrap();
    let head: Vec<&str> = vowels
        .lines()
        .take_while(|l| !l.starts_with("@data"))
        .collect();
    let cases: Vec<&str> = vowels.lines().skip(head.len()).take(8).collect();
    vec![toy, format!("{}\n{}\n", head.join("\n"), cases.join("\n"))]
}

fn check_config(path: &Path, text: &str, overrides: &[String]) {
    match parse_with_overrides::<ExperimentConfig>(path, text, overrides) {
        Ok(config) => {
            if config.validate().is_ok() {
                let written = toml::to_string(&config).expect("a valid config serialises");
                let again: ExperimentConfig = toml::from_str(&written)
                    .unwrap_or_else(|e| panic!("round trip failed: {e}\n{written}"));
                assert_eq!(again, config, "round trip changed the config:\n{written}");
            }
        }
        Err(error) => {
            let message = error.to_string();
            assert!(!message.is_empty());
            assert!(
                message.contains(&path.display().to_string()) || message.starts_with("--set"),
                "the error names neither the file nor the override: {message}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs_parse_or_fail_cleanly(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let seeds = config_seeds();
        let (path, text) = &seeds[seed.index(seeds.len())];
        check_config(path, &mutate(text, &edits), &[]);
    }

    #[test]
    fn random_overrides_apply_or_fail_cleanly(
        seed in any::<prop::sample::Index>(),
        key in prop::sample::select(&[
            "train.epochs", "train.batch_size", "optimizer.kind", "optimizer.lr",
            "optimizer.momentum", "optimizer.nesterov", "schedule.kind", "schedule.gamma",
            "schedule.warmup_epochs", "data.kind", "data.mean", "data.valid_fraction",
            "data.augment", "data.series", "model.image_size", "model.in_channels", "model",
            "guard.max_loss_ratio", "backend.kind", "clip.max_norm", "x.y.z", "train",
        ][..]),
        value in prop::sample::select(&[
            "1", "0", "-1", "1e999", "nan", "\"sgd\"", "\"adam\"", "\"ts\"", "\"idx\"",
            "\"warmup-cosine\"", "\"step\"", "[0.5]", "[0.5, 0.5, 0.5]", "true", "{}", "full",
            "\"full\"", "100000000", "0.9", "",
        ][..]),
    ) {
        let seeds = config_seeds();
        let (path, text) = &seeds[seed.index(seeds.len())];
        check_config(path, text, &[format!("{key}={value}")]);
    }

    #[test]
    fn mutated_ts_files_parse_or_fail_cleanly(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
        length in 1usize..40,
        pad in any::<bool>(),
    ) {
        let seeds = ts_seeds();
        let text = mutate(&seeds[seed.index(seeds.len())], &edits);
        let path = Path::new("fuzz.ts");
        if let Ok(file) = ts::parse(path, &text) {
            let channels = file.cases.first().map_or(1, |c| c.0.len());
            let mode = if pad { SeriesLength::Pad } else { SeriesLength::Interpolate };
            if let Ok((train, test)) = ts::to_items(&file, &file, [channels, length], mode, [path, path]) {
                for item in train.iter().chain(&test) {
                    prop_assert_eq!(item.values.len(), channels * length);
                    prop_assert!(item.values.iter().all(|v| v.is_finite()), "non-finite value");
                }
            }
        }
    }

    #[test]
    fn idx_files_with_any_header_load_or_fail_cleanly(
        dims in prop::collection::vec(prop_oneof![0u32..40, any::<u32>()], 3),
        labels in prop_oneof![0u32..40, any::<u32>()],
        payload in 0usize..5000,
        magic in prop::sample::select(&[2051u32, 2049, 0, 2051 << 8][..]),
        gzip in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut images = magic.to_be_bytes().to_vec();
        for d in &dims {
            images.extend(d.to_be_bytes());
        }
        images.extend((0..payload).map(|i| i as u8));
        let mut label_bytes = 2049u32.to_be_bytes().to_vec();
        label_bytes.extend(labels.to_be_bytes());
        label_bytes.extend((0..labels.min(100_000)).map(|i| (i % 10) as u8));
        let (image_path, label_path) = if gzip {
            use std::io::Write;
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&images).unwrap();
            images = encoder.finish().unwrap();
            (dir.path().join("i.gz"), dir.path().join("l"))
        } else {
            (dir.path().join("i"), dir.path().join("l"))
        };
        std::fs::write(&image_path, &images).unwrap();
        std::fs::write(&label_path, &label_bytes).unwrap();
        match zoo_data::idx::read_pair(&image_path, &label_path) {
            Ok((items, shape)) => {
                prop_assert_eq!(items.len(), dims[0] as usize);
                for item in &items {
                    prop_assert_eq!(item.pixels.len(), shape[1] * shape[2]);
                }
            }
            Err(error) => prop_assert!(error.to_string().contains(dir.path().to_str().unwrap())),
        }
    }

    #[test]
    fn cifar_bytes_load_or_fail_cleanly(
        records in 0usize..3,
        extra in 0usize..4,
        label in any::<u8>(),
    ) {
        let mut bytes = Vec::new();
        for r in 0..records {
            bytes.push(if r == 0 { label } else { 3 });
            bytes.extend(std::iter::repeat_n(7u8, 3072));
        }
        bytes.extend(std::iter::repeat_n(1u8, extra));
        match zoo_data::cifar::parse_records(Path::new("x.bin"), &bytes, 0) {
            Ok(items) => {
                prop_assert_eq!(items.len(), records);
                prop_assert!(items.iter().all(|item| item.label < 10));
            }
            Err(error) => prop_assert!(error.to_string().starts_with("x.bin: ")),
        }
    }
}
