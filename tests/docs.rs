//! Man pages (one per command and subcommand) and shell completions are generated from the
//! clap definitions. This test fails when the committed ones are stale;
//! `SIPSEC_WRITE_DOCS=1 cargo test --test docs` rewrites them.

use clap::Command;
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
        let mut built = command.clone().disable_help_subcommand(true);
        built.build();
        write_man_pages(&built, &man_dir);
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut command = command.clone();
            generate_to(shell, &mut command, name.clone(), &completions_dir).unwrap();
        }
    }
    generate_listing(root)
}

/// The pages of `command` and of each of its subcommands (`sipsec-certgen-group-add.1`).
fn write_man_pages(command: &Command, dir: &Path) {
    for sub in command.get_subcommands() {
        write_man_pages(sub, dir);
    }
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    synopsis(command, &mut page);
    man.render_description_section(&mut page).unwrap();
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut page).unwrap();
    }
    if command.has_subcommands() {
        man.render_subcommands_section(&mut page).unwrap();
    }
    if command.get_after_long_help().is_some() || command.get_after_help().is_some() {
        man.render_extra_section(&mut page).unwrap();
    }
    if command.get_version().is_some() {
        man.render_version_section(&mut page).unwrap();
    }
    fs::write(dir.join(man.get_filename()), page).unwrap();
}

/// The synopsis as `--help` prints its usage line (clap_mangen's own drops the `...` of
/// repeatable arguments and the value names).
fn synopsis(command: &Command, page: &mut Vec<u8>) {
    let usage = command.clone().render_usage().to_string();
    let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage);
    let roff = usage.replace('\\', "\\e").replace('-', "\\-");
    page.extend_from_slice(format!(".SH SYNOPSIS\n.nf\n{roff}\n.fi\n").as_bytes());
}

/// Every option and argument of every command says what it is.
#[test]
fn every_option_and_argument_is_described() {
    fn undescribed(command: &Command, missing: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let builtin = matches!(arg.get_id().as_str(), "help" | "version");
            if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                let name = command.get_bin_name().unwrap_or(command.get_name());
                missing.push(format!("{name}: {}", arg.get_id()));
            }
        }
        for sub in command.get_subcommands() {
            undescribed(sub, missing);
        }
    }
    let mut missing = Vec::new();
    for mut command in sipsec::cli::commands() {
        command.build();
        undescribed(&command, &mut missing);
    }
    assert!(
        missing.is_empty(),
        "no description:\n{}",
        missing.join("\n")
    );
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
