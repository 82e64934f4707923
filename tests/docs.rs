//! The documents, checked: every relative link of the README, BENCHMARKS.md and the book
//! (`docs/book/src`) points at a file that exists (and at a heading that exists, for `#…`), the
//! book's links stay inside the book (anything else would 404 in the rendered site), every page
//! is in `SUMMARY.md`, every code block names its language (a bare one would be compiled as
//! Rust by the doc tests that include the pages), and the front pages stay short.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn book() -> PathBuf {
    root().join("docs/book/src")
}

fn chapters() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(book())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    pages
}

/// The targets of `[text](target)` and `![alt](target)` outside code blocks and code spans.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // code spans hold things like `a[i](b)`: leave them out
        let plain: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, part)| part)
            .collect();
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].trim().to_string());
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's and mdBook's anchor of a heading: lowercase, spaces to `-`, punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The headings' anchors of the page `file`, with the pages it `{{#include …}}`s (as mdBook
/// renders them).
fn anchors(file: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        } else if let Some(include) = line.trim().strip_prefix("{{#include ") {
            let path = include.trim_end_matches("}}").split(':').next().unwrap();
            let included = file.parent().unwrap().join(path);
            if included.is_file() {
                out.extend(anchors(&included));
            }
        }
    }
    out
}

/// Every broken link of `file`; `inside`: a directory the links must stay in.
fn broken(file: &Path, inside: Option<&Path>) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let dir = file.parent().unwrap();
    let mut problems = Vec::new();
    for link in links(&text) {
        if link.starts_with("http://")
            || link.starts_with("https://")
            || link.starts_with("mailto:")
        {
            continue;
        }
        let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
        let target = if path.is_empty() {
            file.to_path_buf()
        } else {
            dir.join(path)
        };
        let shown = format!("{}: `{link}`", file.display());
        let Ok(resolved) = target.canonicalize() else {
            problems.push(format!("{shown}: no such file"));
            continue;
        };
        if let Some(inside) = inside
            && !resolved.starts_with(inside.canonicalize().unwrap())
        {
            problems.push(format!(
                "{shown}: outside the book (a 404 in the rendered site)"
            ));
        }
        if !anchor.is_empty()
            && resolved.extension().is_some_and(|ext| ext == "md")
            && !anchors(&resolved).contains(anchor)
        {
            problems.push(format!("{shown}: no heading `#{anchor}` there"));
        }
    }
    for line in text.lines() {
        if let Some(include) = line.trim().strip_prefix("{{#include ") {
            let path = include.trim_end_matches("}}").split(':').next().unwrap();
            if !dir.join(path).is_file() {
                problems.push(format!(
                    "{}: include `{path}`: no such file",
                    file.display()
                ));
            }
        }
    }
    problems
}

#[test]
fn every_link_resolves_and_the_book_links_stay_inside_it() {
    let mut problems = Vec::new();
    for page in ["README.md", "BENCHMARKS.md"] {
        problems.extend(broken(&root().join(page), None));
    }
    for chapter in chapters() {
        problems.extend(broken(&chapter, Some(&book())));
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn links_and_slugs_are_read_as_markdown_does() {
    let text = "See [a](a.md#b-c) and ![p](images/p.png), not `x[0](y)`.\n```rust\n[z](w)\n```\n";
    assert_eq!(links(text), ["a.md#b-c", "images/p.png"]);
    assert_eq!(
        slug(" Weights in and out: PyTorch and Keras"),
        "weights-in-and-out-pytorch-and-keras"
    );
    assert_eq!(
        slug("Every key, at its default"),
        "every-key-at-its-default"
    );
}

#[test]
fn every_chapter_is_in_the_summary() {
    let summary = std::fs::read_to_string(book().join("SUMMARY.md")).unwrap();
    let listed: BTreeSet<String> = links(&summary).into_iter().collect();
    for chapter in chapters() {
        let name = chapter.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name == "SUMMARY.md" || listed.contains(&name),
            "{name} is not in SUMMARY.md"
        );
    }
    assert!(listed.len() >= 10, "the book has {} chapters", listed.len());
}

#[test]
fn every_code_block_names_its_language() {
    let mut pages = chapters();
    pages.push(root().join("README.md"));
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        let mut open = false;
        for (number, line) in text.lines().enumerate() {
            let Some(info) = line.trim_start().strip_prefix("```") else {
                continue;
            };
            assert!(
                open || !info.trim().is_empty(),
                "{}:{}: a code block without a language (`text`, `sh`, `toml`, `rust`)",
                page.display(),
                number + 1
            );
            open = !open;
        }
    }
}

#[test]
fn the_front_pages_stay_short() {
    for (page, most) in [("README.md", 200), ("BENCHMARKS.md", 250)] {
        let lines = std::fs::read_to_string(root().join(page))
            .unwrap()
            .lines()
            .count();
        assert!(
            lines <= most,
            "{page} has {lines} lines; at most {most}: move the rest into the book"
        );
    }
}

#[test]
fn every_page_with_rust_code_is_a_doc_test() {
    let common = std::fs::read_to_string(root().join("tests/common.rs")).unwrap();
    let mut pages = chapters();
    pages.push(root().join("README.md"));
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        if !text
            .lines()
            .any(|line| line.trim_start().starts_with("```rust"))
        {
            continue;
        }
        let relative = page
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let relative = relative
            .trim_start_matches("../")
            .trim_start_matches("tests/../");
        assert!(
            common.contains(&format!("include_str!(\"../{relative}\")")),
            "{relative} has Rust code: include it as a doc test in tests/common.rs"
        );
    }
}
