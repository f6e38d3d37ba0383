//! The README's examples run as written: every ```sh block (not the ones marked
//! ```sh no-run: the top-level scripts and the installation) is run in order in one shell,
//! with the tools on PATH, from a scratch directory that sees the repository's testdata/ and
//! dist/. A block that fails, or a pipeline stage that fails, fails the test.

use std::path::Path;
use std::process::Command;

/// The runnable shell blocks of `markdown`, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn blocks_are_found_and_no_run_ones_left_out() {
    let md = "a\n```sh\necho 1\n```\n```sh no-run\nrm -rf /\n```\n```text\nx\n```\n```sh\necho 2\necho 3\n```\n";
    assert_eq!(sh_blocks(md), ["echo 1\n", "echo 2\necho 3\n"]);
}

#[test]
fn readme_examples_run_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(blocks.len() >= 6, "only {} runnable blocks", blocks.len());
    let work = tempfile::tempdir().unwrap();
    for dir in ["testdata", "dist"] {
        std::os::unix::fs::symlink(root.join(dir), work.path().join(dir)).unwrap();
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_sipsec-sign"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = blocks.join("\n");
    let o = Command::new("bash")
        .args(["-e", "-u", "-o", "pipefail", "-c", &script])
        .current_dir(work.path())
        .env("PATH", path)
        .env_remove("SIPSEC_STORE")
        .env_remove("SIPSEC_CONTROL_KEY")
        .output()
        .expect("run bash");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "README examples failed\nstdout:\n{out}\nstderr:\n{err}"
    );
    // What the examples say happens, happened.
    assert!(
        out.contains("issued sip:support@callcentre.example"),
        "{out}"
    );
    assert!(
        out.contains(r#""signer":"sip:support@callcentre.example""#)
            && out.contains(r#""freshness":{"#),
        "{out}"
    );
    let checked = std::fs::read(work.path().join("checked.sip")).unwrap();
    let mark = b"Subject: validated <sip:support@callcentre.example>\r\n";
    assert!(checked.windows(mark.len()).any(|w| w == mark));
    assert!(out.contains("sipsec-relay: configuration usable: listen udp:127.0.0.1:5060"));
    assert!(!err.contains("warning"), "{err}");
    // What they make in a checkout is ignored by git.
    let ignored = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    for entry in std::fs::read_dir(work.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !["testdata", "dist"].contains(&name.as_str()) {
            assert!(
                ignored.lines().any(|l| l == format!("/{name}")),
                "/{name} not in .gitignore"
            );
        }
    }
}
