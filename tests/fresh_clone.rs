//! A fresh clone holds everything README's commands need: the set-up scripts they run are
//! tracked and executable, every repository path README names is tracked, and the shipped demo
//! bundle is in the clone byte for byte (not left to an ignored or untracked file). The clone is
//! of the committed state, as CI and a new user get it.

use std::path::Path;
use std::process::Command;

use daecf_e2e::{repository, temp_dir};

/// The folders a repository path in README starts with.
const TRACKED_ROOTS: [&str; 8] =
    ["core/", "native-trainer/", "web-app/", "shared-models/", "scripts/", "docs/", "tests/", ".ci/"];

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git").arg("-C").arg(dir).args(args).output().expect("running git")
}

/// The repository paths README names: words starting with a tracked folder, without the
/// punctuation around them, leaving out patterns and placeholders.
fn readme_paths(readme: &str) -> Vec<String> {
    let mut paths: Vec<String> = readme
        .split(|c: char| c.is_whitespace() || "`()|,;\"'".contains(c))
        .map(|w| w.trim_end_matches(['.', ':']))
        .filter(|w| TRACKED_ROOTS.iter().any(|root| w.starts_with(root)))
        .filter(|w| !w.contains(['*', '<', '{', '$']) && !w.chars().any(|c| c.is_ascii_uppercase() && w.ends_with(c)))
        .map(str::to_string)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[test]
fn a_fresh_clone_holds_what_the_readme_commands_need() {
    let root = repository();
    assert!(git(&root, &["rev-parse", "--git-dir"]).status.success(), "{} is not a git checkout", root.display());
    let tmp = temp_dir("clone");
    let clone = tmp.path().join("daecf");
    let cloned = Command::new("git").arg("clone").arg("--quiet").arg(&root).arg(&clone).output().expect("running git");
    assert!(cloned.status.success(), "git clone: {}", String::from_utf8_lossy(&cloned.stderr));

    let readme = std::fs::read_to_string(clone.join("README.md")).expect("README.md in the clone");
    for command in ["scripts/demo.sh", "scripts/test.sh", ".ci/run"] {
        assert!(command == ".ci/run" || readme.contains(command), "README does not name {command}");
        let mode =
            std::fs::metadata(clone.join(command)).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()));
        assert!(mode.is_ok_and(|m| m & 0o111 != 0), "{command} is not an executable file in a fresh clone");
    }
    let paths = readme_paths(&readme);
    assert!(paths.len() > 20, "README names few repository paths: {paths:?}");
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| !clone.join(p.as_str()).exists())
        // Build outputs (web-app/dist, say) appear only after a command.
        .filter(|p| !git(&clone, &["check-ignore", "-q", p.as_str()]).status.success())
        .collect();
    assert!(missing.is_empty(), "README names paths a fresh clone lacks: {missing:?}");

    let bundle = "shared-models/demo/demo.daecf";
    let (ours, theirs) = (std::fs::read(root.join(bundle)), std::fs::read(clone.join(bundle)));
    assert!(
        theirs.is_ok_and(|t| ours.is_ok_and(|o| o == t)),
        "{bundle} differs in a fresh clone: commit it (and keep it out of .gitignore and Git LFS)"
    );
}

#[test]
fn readme_paths_are_read_without_punctuation_or_placeholders() {
    let text = "Run `scripts/demo.sh`, then (see docs/benchmarks.md). Not fit/report/ nor OUT/ \
                nor scripts/*.sh nor core/src/<x>.rs; shared-models/demo/README.md: yes.";
    assert_eq!(readme_paths(text), vec!["docs/benchmarks.md", "scripts/demo.sh", "shared-models/demo/README.md"]);
}
