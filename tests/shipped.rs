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
