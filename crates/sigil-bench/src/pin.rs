//! CPU pinning through `taskset` (util-linux), so this crate needs no
//! `unsafe` `sched_setaffinity` call: the server is started as
//! `taskset -c LIST sigil serve …`, and a thread of this program pins itself
//! with `taskset -p -c LIST <thread id>`; threads it starts afterwards (a
//! runtime's workers) inherit the mask.

use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use crate::procfs;

/// The CPUs of a `taskset -c` list (`0`, `0-3`, `0,2-3`), sorted, without
/// duplicates.
///
/// # Errors
/// For an empty list, a non-number or a descending range.
pub(crate) fn parse_cpu_list(text: &str) -> anyhow::Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let (first, last) = match item.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (item, item),
        };
        let first: usize = first
            .parse()
            .with_context(|| format!("CPU list {text:?}: {item:?} is not a CPU number or range"))?;
        let last: usize = last
            .parse()
            .with_context(|| format!("CPU list {text:?}: {item:?} is not a CPU number or range"))?;
        if last < first {
            bail!("CPU list {text:?}: range {item:?} is descending");
        }
        cpus.extend(first..=last);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// Pins the calling thread to the CPUs of `list`.
///
/// # Errors
/// When `taskset` is missing or refuses (an offline CPU, say).
pub(crate) fn pin_current_thread(list: &str) -> anyhow::Result<()> {
    let tid = procfs::thread_id().context("cannot read /proc/thread-self to pin this thread")?;
    let status = Command::new("taskset")
        .args(["-p", "-c", list, &tid.to_string()])
        .stdout(Stdio::null())
        .status()
        .context("cannot run taskset (util-linux) to pin the load generator")?;
    if !status.success() {
        bail!("taskset -p -c {list} {tid} failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        let cases: [(&str, &[usize]); 5] = [
            ("0", &[0]),
            ("1", &[1]),
            ("0-3", &[0, 1, 2, 3]),
            ("0,2-3", &[0, 2, 3]),
            ("3,1,1-2", &[1, 2, 3]),
        ];
        for (text, want) in cases {
            assert_eq!(parse_cpu_list(text).unwrap(), want, "{text}");
        }
        for bad in ["", "a", "3-1", "0,,1", "-1"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad:?}");
        }
    }
}
