//! The cluster recipes in deploy/: the Kubernetes manifests parse as YAML and
//! name only flags `podcap batch` has, and their commands, run here as each
//! pod or array task would (its index in the environment), cover the catalog
//! in 3 shards whose merged summary equals a single run's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use crate::batch::{catalog, summary};
use crate::util::*;

fn yaml_docs(path: &str) -> Vec<Yaml> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

/// The container's command and args of a Job manifest.
fn job_command(job: &Yaml) -> Vec<String> {
    assert_eq!(job["kind"].as_str(), Some("Job"));
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let strings = |y: &Yaml| -> Vec<String> {
        y.as_vec()
            .unwrap_or_else(|| panic!("not a list: {y:?}"))
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap_or_else(|| panic!("not a string: {a:?}"))
                    .to_string()
            })
            .collect()
    };
    [strings(&container["command"]), strings(&container["args"])].concat()
}

/// Every `--flag` of `args` is one `podcap batch --help` lists.
fn assert_flags_exist(args: &[String], what: &str) {
    let help = podcap(&["batch", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    let known: BTreeSet<&str> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '=' || c == '[' || c == '<')
        .filter(|w| w.starts_with("--"))
        .collect();
    assert!(known.contains("--shard"), "{help}");
    for a in args.iter().filter(|a| a.starts_with("--")) {
        assert!(
            known.contains(a.as_str()),
            "{what} uses {a}, which podcap batch does not have"
        );
    }
}

/// `args` with the pod's paths moved into the test's folders.
fn on_this_machine(args: &[String], mounts: &[(&str, &Path)]) -> Vec<String> {
    args.iter()
        .map(|a| {
            mounts
                .iter()
                .find_map(|(from, to)| {
                    a.strip_prefix(from)
                        .map(|rest| format!("{}{rest}", to.display()))
                })
                .unwrap_or_else(|| a.clone())
        })
        .collect()
}

fn run_podcap(args: &[String], env: &[(&str, String)]) -> std::process::Output {
    assert_eq!(args[0], "podcap");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_podcap"));
    cmd.args(&args[1..])
        .env("PODCAP_MODELS_DIR", root().join("models"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// A summary without what depends on the moment (times) or the folder
/// (output paths, kept by file name).
fn comparable(mut summary: serde_json::Value) -> serde_json::Value {
    summary["totals"]["seconds_taken"] = 0.into();
    for e in summary["episodes"].as_array_mut().unwrap() {
        e["seconds_taken"] = 0.into();
        e["realtime_factor"] = serde_json::Value::Null;
        for o in e["outputs"].as_array_mut().unwrap() {
            let name = Path::new(o.as_str().unwrap())
                .file_name()
                .unwrap()
                .to_owned();
            *o = name.to_string_lossy().into_owned().into();
        }
    }
    summary
}

/// The catalog as the manifest the recipes read: catalog.csv beside the
/// episodes, with ids (pod-a, pod-b, pod-c) that fall one in each of 3 shards.
fn manifest_catalog(dir: &Path) -> PathBuf {
    let cat = dir.join("catalog");
    std::fs::create_dir_all(&cat).unwrap();
    let mut csv = String::from("id,audio,transcript\n");
    for name in files_in(catalog()) {
        std::fs::copy(catalog().join(&name), cat.join(&name)).unwrap();
        if let Some(id) = name.strip_suffix(".mp3") {
            let transcript = if catalog().join(format!("{id}.txt")).exists() {
                format!("{id}.txt")
            } else {
                String::new()
            };
            csv.push_str(&format!("pod-{id},{name},{transcript}\n"));
        }
    }
    std::fs::write(cat.join("catalog.csv"), csv).unwrap();
    cat
}

#[test]
fn kubernetes_and_slurm_recipes_shard_the_catalog_and_merge_to_the_single_run() {
    let work = tempfile::tempdir().unwrap();
    let cat = manifest_catalog(work.path());
    let single = work.path().join("single");
    let o = podcap(&[
        "batch",
        cat.join("catalog.csv").to_str().unwrap(),
        "--out",
        single.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let single = summary(&single, "summary");

    // Kubernetes: an Indexed Job whose pods run --shard auto/N, N = completions.
    let docs = yaml_docs("deploy/kubernetes/podcap-batch.yaml");
    let job = &docs[0];
    assert_eq!(job["spec"]["completionMode"].as_str(), Some("Indexed"));
    let n = job["spec"]["completions"].as_i64().unwrap() as usize;
    assert_eq!(n, 3);
    let command = job_command(job);
    assert_flags_exist(&command[1..], "podcap-batch.yaml");
    let shard_at = command.iter().position(|a| a == "--shard").unwrap();
    assert_eq!(command[shard_at + 1], format!("auto/{n}"));
    // The volumes the command writes to and reads from are mounted.
    let mounts: Vec<String> = job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap().to_string())
        .collect();
    let out_at = command.iter().position(|a| a == "--out").unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| command[out_at + 1].starts_with(m.as_str())),
        "{mounts:?}"
    );
    assert!(
        mounts.iter().any(|m| command[2].starts_with(m.as_str())),
        "{mounts:?}"
    );

    let shared = work.path().join("captions");
    let here = [("/catalog", cat.as_path()), ("/captions", shared.as_path())];
    let mut owners: Vec<String> = Vec::new();
    for index in 0..n {
        let o = run_podcap(
            &on_this_machine(&command, &here),
            &[("JOB_COMPLETION_INDEX", index.to_string())],
        );
        assert!(o.status.success(), "pod {index}: {}", stderr(&o));
        let part = summary(&shared, &format!("summary.shard-{index}-of-{n}"));
        assert_eq!(part["episodes"].as_array().unwrap().len(), 1, "{part}");
        owners.extend(
            part["episodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_string()),
        );
    }
    owners.sort();
    assert_eq!(
        owners,
        ["pod-a", "pod-b", "pod-c"],
        "every episode in exactly one shard"
    );

    let merge = yaml_docs("deploy/kubernetes/podcap-merge.yaml");
    let merge = on_this_machine(&job_command(&merge[0]), &here);
    assert_flags_exist(&merge[1..], "podcap-merge.yaml");
    let o = run_podcap(&merge, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(comparable(summary(&shared, "summary")), comparable(single));

    // Slurm: the sbatch script as each array task runs it (its #SBATCH
    // --array range sets the task ids), into the same folder: every shard
    // is up to date, and again each episode is in exactly one.
    let script = root().join("deploy/slurm/podcap-batch.sbatch");
    let text = std::fs::read_to_string(&script).unwrap();
    let array = text
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --array="))
        .expect("an #SBATCH --array line");
    let (lo, hi) = array.split_once('-').unwrap();
    let (lo, hi): (usize, usize) = (lo.parse().unwrap(), hi.parse().unwrap());
    let call = text
        .lines()
        .find(|l| l.contains("\"$podcap\" batch"))
        .expect("the podcap batch line");
    let flags: Vec<String> = call.split_whitespace().map(str::to_string).collect();
    assert_flags_exist(&flags, "podcap-batch.sbatch");
    let mut owners: Vec<String> = Vec::new();
    for task in lo..=hi {
        let o = Command::new("bash")
            .arg(&script)
            .env("PODCAP", env!("CARGO_BIN_EXE_podcap"))
            .env("PODCAP_MODELS_DIR", root().join("models"))
            .env("CATALOG", cat.join("catalog.csv"))
            .env("OUT", &shared)
            .env("SLURM_ARRAY_TASK_ID", task.to_string())
            .env("SLURM_ARRAY_TASK_MIN", lo.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", (hi - lo + 1).to_string())
            .env("SLURM_CPUS_PER_TASK", "2")
            .output()
            .unwrap();
        assert!(o.status.success(), "task {task}: {}", stderr(&o));
        let part = summary(
            &shared,
            &format!("summary.shard-{}-of-{}", task - lo, hi - lo + 1),
        );
        for e in part["episodes"].as_array().unwrap() {
            assert_eq!(e["status"], "up_to_date", "{e}");
            owners.push(e["id"].as_str().unwrap().to_string());
        }
    }
    owners.sort();
    assert_eq!(owners, ["pod-a", "pod-b", "pod-c"]);
}
