//! What a training step reads back to the host, and fixed batch shapes.
//!
//! Its own test binary: [`zoo_train::host_reads`] counts reads in the whole process, so no
//! other test may train beside this one.

use zoo_cli::backend::BackendKind;
use zoo_cli::train::{TrainArgs, train_run};
use zoo_tests::zoo;

const BATCH: usize = 16;

/// A multi-class and a binary model (the binary task's one logit becomes two probability
/// columns in evaluation), one after the other: the counter is the process's.
#[test]
fn one_host_read_per_step_and_padded_evaluation_batches_score_each_item_once() {
    check("conv1d-classifier", &["data.synthetic_items=110"]);
    check(
        "binary-cnn",
        &["data.synthetic_items=110", "model.image_size=64"],
    );
}

fn check(experiment: &str, sets: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let mut overrides: Vec<String> = [
        "train.epochs=2",
        &format!("train.batch_size={BATCH}"),
        "train.last_batch=\"drop\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    overrides.extend(sets.iter().map(|s| s.to_string()));
    let before = zoo_train::host_reads();
    let outcome = train_run(TrainArgs {
        experiment,
        overrides: &overrides,
        // NdArray trains; the metrics run on Flex (zoo_train::host_device), so a metric that
        // read the training device itself would not be on the host copies.
        backend: Some(BackendKind::Ndarray),
        resume: None,
        out: out.path(),
    })
    .expect("training runs");
    let reads = zoo_train::host_reads() - before;
    let [train, valid, test] = outcome.summary.split_sizes;
    assert!(
        train % BATCH != 0 && valid % BATCH != 0 && test % BATCH != 0,
        "{experiment}: the case needs partial batches: {:?}",
        outcome.summary.split_sizes
    );
    // `drop`: full training batches only; validation and test batches padded, not dropped.
    let steps = train / BATCH;
    let evaluation = |items: usize| items.div_ceil(BATCH);
    assert_eq!(
        reads,
        2 * (steps + evaluation(valid)) + evaluation(test),
        "{experiment}: host reads for 2 epochs of {steps} steps and {} validation batches, then \
         {} test batches: one per step or batch",
        evaluation(valid),
        evaluation(test)
    );
    let steps_csv = std::fs::read_to_string(outcome.run.steps_csv()).unwrap();
    assert_eq!(steps_csv.lines().count() - 1, 2 * steps, "{steps_csv}");

    // The test split scored through padded batches equals `zoo eval` through unpadded ones.
    let scored = outcome.summary.test.expect("a test split");
    assert_eq!(scored.items, test);
    let run = outcome.run.path.to_str().unwrap();
    let eval = zoo(&[
        "eval",
        run,
        "--split",
        "test",
        "--json",
        "--backend",
        "ndarray",
    ])
    .success();
    let unpadded: zoo_train::EvalMetrics = serde_json::from_str(&eval.stdout).unwrap();
    assert_eq!(unpadded.items, test);
    assert!(
        (unpadded.loss - scored.loss).abs() < 1e-5 * scored.loss.max(1.0),
        "{experiment}: loss {} (padded batches) vs {} (unpadded)",
        scored.loss,
        unpadded.loss
    );
    assert_eq!(unpadded.accuracy, scored.accuracy);
    assert_eq!(unpadded.per_class, scored.per_class);
    assert_eq!(unpadded.binary, scored.binary);
}
