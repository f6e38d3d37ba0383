//! Man pages and shell completions are generated from the clap definitions. This test fails
//! when the committed ones are stale; `SIPSEC_WRITE_DOCS=1 cargo test --test docs` rewrites
//! them.

use clap_complete::{generate_to, Shell};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn generate(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let man_dir = root.join("man");
    let completions_dir = root.join("completions");
    fs::create_dir_all(&man_dir).unwrap();
    fs::create_dir_all(&completions_dir).unwrap();
    for command in sipsec::cli::commands() {
        let name = command.get_name().to_string();
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone())
            .render(&mut page)
            .unwrap();
        fs::write(man_dir.join(format!("{name}.1")), page).unwrap();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut command = command.clone();
            generate_to(shell, &mut command, name.clone(), &completions_dir).unwrap();
        }
    }
    generate_listing(root)
}

#[test]
fn man_pages_and_completions_are_fresh() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("SIPSEC_WRITE_DOCS").is_some() {
        for dir in ["man", "completions"] {
            let _ = fs::remove_dir_all(root.join(dir));
        }
        generate(&root);
        return;
    }
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = generate(fresh_dir.path());
    let committed = generate_listing(&root);
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "man pages or completions are missing or extra: run SIPSEC_WRITE_DOCS=1 cargo test --test docs"
    );
    for (path, bytes) in &fresh {
        assert!(
            committed[path] == *bytes,
            "{} is stale: run SIPSEC_WRITE_DOCS=1 cargo test --test docs",
            path.display()
        );
    }
    for command in sipsec::cli::commands() {
        command.debug_assert();
    }
}

fn generate_listing(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for dir in ["man", "completions"] {
        let Ok(entries) = fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n != ".gitkeep") {
                files.insert(
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    fs::read(&path).unwrap(),
                );
            }
        }
    }
    files
}
