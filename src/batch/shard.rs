//! Shards: a deterministic share of a catalog, for runs spread over many
//! machines. An episode belongs to shard `hash(id) mod N`, with a stable hash
//! (SHA-256) of its id: the same catalog gives the same shards on every
//! machine, and adding episodes moves none of the others to another shard.

use std::fmt;

/// Shard `index` of `count` (0-based: `0/3`, `1/3`, `2/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Kubernetes Indexed Jobs set this in each pod: 0 .. completions - 1.
pub const KUBERNETES_INDEX: &str = "JOB_COMPLETION_INDEX";
/// Slurm job arrays set these in each task.
pub const SLURM_INDEX: &str = "SLURM_ARRAY_TASK_ID";
pub const SLURM_MIN: &str = "SLURM_ARRAY_TASK_MIN";
pub const SLURM_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";

impl Shard {
    /// Parses `K/N`, `auto` or `auto/N`. `auto` takes the index from the
    /// cluster's environment (read through `env`): a Kubernetes Indexed
    /// Job's `JOB_COMPLETION_INDEX` or a Slurm array task's
    /// `SLURM_ARRAY_TASK_ID` (counted from `SLURM_ARRAY_TASK_MIN`); the
    /// count from `/N`, else from `SLURM_ARRAY_TASK_COUNT`.
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let usage = "use --shard K/N (K from 0 to N-1), or --shard auto[/N] in a Kubernetes Indexed Job or a Slurm job array";
        let (index, count) = text
            .split_once('/')
            .map_or((text, None), |(k, n)| (k, Some(n)));
        let number = |what: &str, s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("--shard {text}: {what} '{s}' is not a number; {usage}"))
        };
        let count = count.map(|n| number("the count", n)).transpose()?;
        let (index, count) = if index.trim() == "auto" {
            let from_env = |name: &str| {
                env(name)
                    .map(|v| {
                        v.trim()
                            .parse::<usize>()
                            .map_err(|_| format!("--shard auto: {name}='{v}' is not a number"))
                    })
                    .transpose()
            };
            if let Some(k) = from_env(KUBERNETES_INDEX)? {
                let n = count.ok_or_else(|| {
                    format!("--shard auto: {KUBERNETES_INDEX} is {k}, but Kubernetes does not say how many shards there are; pass --shard auto/N with N = the Job's completions")
                })?;
                (k, n)
            } else if let Some(id) = from_env(SLURM_INDEX)? {
                let min = from_env(SLURM_MIN)?.unwrap_or(0);
                let n = match count {
                    Some(n) => n,
                    None => from_env(SLURM_COUNT)?.ok_or_else(|| {
                        format!("--shard auto: {SLURM_COUNT} is not set; pass --shard auto/N")
                    })?,
                };
                let k = id.checked_sub(min).ok_or_else(|| {
                    format!("--shard auto: {SLURM_INDEX}={id} is below {SLURM_MIN}={min}")
                })?;
                (k, n)
            } else {
                return Err(format!(
                    "--shard auto: neither {KUBERNETES_INDEX} (Kubernetes Indexed Job) nor {SLURM_INDEX} (Slurm job array) is set; {usage}"
                ));
            }
        } else {
            let n = count.ok_or_else(|| format!("--shard {text}: no count; {usage}"))?;
            (number("the index", index)?, n)
        };
        if count == 0 || index >= count {
            return Err(format!(
                "--shard {text}: shard {index} of {count} does not exist; {usage}"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether the episode `id` is in this shard.
    pub fn contains(&self, id: &str) -> bool {
        let digest = crate::fsutil::sha256_bytes(id.as_bytes());
        let head = u64::from_str_radix(&digest[..16], 16).expect("hex");
        (head % self.count as u64) as usize == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn parses_explicit_and_cluster_shards() {
        let none = env(&[]);
        assert_eq!(Shard::parse("1/3", &none), Ok(Shard { index: 1, count: 3 }));
        for bad in ["3/3", "1", "x/3", "0/0", "auto"] {
            assert!(Shard::parse(bad, &none).is_err(), "{bad}");
        }
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2")]);
        assert_eq!(
            Shard::parse("auto/4", &k8s),
            Ok(Shard { index: 2, count: 4 })
        );
        assert!(Shard::parse("auto", &k8s).unwrap_err().contains("auto/N"));
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert_eq!(
            Shard::parse("auto", &slurm),
            Ok(Shard { index: 2, count: 3 })
        );
    }

    #[test]
    fn every_id_is_in_exactly_one_shard_and_stays_there() {
        let ids: Vec<String> = (0..300).map(|i| format!("ep{i:03}")).collect();
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        let mut sizes = [0; 3];
        for id in &ids {
            let owners: Vec<usize> = shards
                .iter()
                .filter(|s| s.contains(id))
                .map(|s| s.index)
                .collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 70), "balanced: {sizes:?}");
        // A stored expectation: a change of hash would move every
        // finished episode of a sharded catalog to another shard.
        let first: Vec<usize> = ids[..8]
            .iter()
            .map(|id| shards.iter().position(|s| s.contains(id)).unwrap())
            .collect();
        assert_eq!(first, [2, 2, 2, 0, 1, 0, 2, 0]);
    }
}
