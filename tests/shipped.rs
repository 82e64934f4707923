//! The trained weights shipped in `weights/` reproduce their model cards: `zoo eval` on each
//! gives the test accuracy and loss its `summary.json` (written by the training run) records.

use zoo_tests::{workspace_root, zoo};

#[test]
fn shipped_weights_reproduce_their_cards() {
    let root = workspace_root().join("weights");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("model.bpk").is_file())
        .collect();
    dirs.sort();
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"japanese-vowels".to_string()), "{names:?}");
    assert!(
        names.contains(&"fashion-inception".to_string()),
        "{names:?}"
    );
    for dir in dirs {
        let card: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert!(
            dir.join("MODEL_CARD.md").is_file(),
            "{} has no card",
            dir.display()
        );
        let run = zoo(&["eval", dir.to_str().unwrap(), "--json"]).success();
        let eval: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let items = card["test"]["items"].as_u64().unwrap();
        assert_eq!(eval["items"].as_u64().unwrap(), items, "{}", dir.display());
        // Another CPU's kernels sum in another order: an item whose two best logits nearly
        // tie may flip, so one item either way is allowed, and the loss to 1e-3 relative.
        let (want, got) = (
            card["test"]["accuracy"].as_f64().unwrap(),
            eval["accuracy"].as_f64().unwrap(),
        );
        assert!(
            (want - got).abs() <= 100.0 / items as f64 + 1e-9,
            "{}: accuracy {got} vs the card's {want}",
            dir.display()
        );
        let (want, got) = (
            card["test"]["loss"].as_f64().unwrap(),
            eval["loss"].as_f64().unwrap(),
        );
        assert!(
            (want - got).abs() <= 1e-3 * want,
            "{}: loss {got} vs the card's {want}",
            dir.display()
        );
        // Per class: the items of each class add up to the split.
        let per_class = eval["per_class"].as_array().unwrap();
        let total: u64 = per_class.iter().map(|c| c["items"].as_u64().unwrap()).sum();
        assert_eq!(total, items);
    }
}

/// Three 28×28 garments-ish PNGs (bright shapes on black) in `dir`.
fn pngs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    (0..3u32)
        .map(|k| {
            let image = image::GrayImage::from_fn(28, 28, |x, y| {
                let inside = (4 + k..24).contains(&x) && (2..26 - 3 * k).contains(&y);
                image::Luma([if inside { 60 + 60 * k as u8 } else { 0 }])
            });
            let path = dir.join(format!("item-{k}.png"));
            image.save(&path).unwrap();
            path
        })
        .collect()
}

/// The shipped image run's preprocess.json is what its training data gives (`zoo preprocess`
/// writes it byte for byte again), `zoo predict` answers the same with it as from the data, and
/// the web demo's classifier (zoo-web, here natively) answers as `zoo predict`.
#[test]
fn shipped_preprocess_json_is_the_datas_and_the_web_classifier_agrees() {
    let shipped = workspace_root().join("weights/fashion-inception");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("fashion-inception");
    std::fs::create_dir(&copy).unwrap();
    for name in [
        "config.toml",
        "model.bpk",
        "model.bpk.sha256",
        "summary.json",
    ] {
        std::fs::copy(shipped.join(name), copy.join(name)).unwrap();
    }
    let files = pngs(dir.path());
    let predict = |run: &std::path::Path| {
        let mut args = vec!["predict", run.to_str().unwrap()];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        args.extend(["--json", "--top", "10"]);
        zoo(&args).success().stdout
    };
    // Without preprocess.json: from the data.
    let from_data = predict(&copy);
    assert_eq!(from_data.lines().count(), 3, "{from_data}");
    zoo(&["preprocess", copy.to_str().unwrap()]).success();
    let written = std::fs::read_to_string(copy.join("preprocess.json")).unwrap();
    let saved = std::fs::read_to_string(shipped.join("preprocess.json")).unwrap();
    assert_eq!(
        written, saved,
        "zoo preprocess vs weights/fashion-inception"
    );
    assert_eq!(
        predict(&copy),
        from_data,
        "with preprocess.json vs from the data"
    );

    let read = |name: &str| std::fs::read_to_string(shipped.join(name)).unwrap();
    let web = zoo_web::Classifier::new(
        &read("config.toml"),
        &saved,
        std::fs::read(shipped.join("model.bpk")).unwrap(),
        &read("model.bpk.sha256"),
    )
    .unwrap();
    for (line, file) in from_data.lines().zip(&files) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let want: Vec<f64> = row["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
        let got = web
            .classify(&std::fs::read(file).unwrap(), "item.png", 10)
            .unwrap();
        for (g, w) in got.probabilities.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() <= 1e-4, "{got:?} vs {want:?}");
        }
        assert_eq!(row["top"][0]["index"], got.top[0].index);
    }
}
