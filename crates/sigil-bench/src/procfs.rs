//! What Linux's `/proc` says about a process, a thread and the machine:
//! CPU time, resident memory, load average, CPU model. Parsing is pure and
//! tested; reading returns `None` where `/proc` is missing (not Linux) or
//! the process is gone.

use std::fs;
use std::process::Command;
use std::time::Duration;

/// CPU time a process has used so far (user + system, all its threads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuTicks {
    /// `utime`, in clock ticks.
    pub(crate) user: u64,
    /// `stime`, in clock ticks.
    pub(crate) system: u64,
}

impl CpuTicks {
    /// User + system time since `earlier`, converted with `ticks_per_s`.
    pub(crate) fn since(self, earlier: Self, ticks_per_s: u64) -> Duration {
        let ticks = (self.user + self.system).saturating_sub(earlier.user + earlier.system);
        Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / ticks_per_s.max(1))
    }
}

/// `utime` and `stime` (fields 14 and 15) of a `/proc/<pid>/stat` line.
///
/// The command name (field 2) is in parentheses and may itself contain
/// spaces and parentheses, so fields are counted from the last `)`.
pub(crate) fn parse_stat_cpu(text: &str) -> Option<CpuTicks> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ")": field 3 (state) is index 0, so field 14 is index 11.
    let user = fields.nth(11)?.parse().ok()?;
    let system = fields.next()?.parse().ok()?;
    Some(CpuTicks { user, system })
}

/// The value in KiB of a `Name:   123 kB` line of `/proc/<pid>/status`.
pub(crate) fn parse_status_kib(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        value.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// Time on a CPU and time spent waiting for one, from a `schedstat` line
/// (`run_ns wait_ns timeslices`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SchedStat {
    /// Nanoseconds spent running.
    pub(crate) run_ns: u64,
    /// Nanoseconds spent runnable but waiting for a CPU.
    pub(crate) wait_ns: u64,
}

/// Parses `/proc/<pid>/schedstat` or `/proc/thread-self/schedstat`.
pub(crate) fn parse_schedstat(text: &str) -> Option<SchedStat> {
    let mut fields = text.split_whitespace();
    Some(SchedStat {
        run_ns: fields.next()?.parse().ok()?,
        wait_ns: fields.next()?.parse().ok()?,
    })
}

/// The three load averages of `/proc/loadavg`.
pub(crate) fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace().map(str::parse::<f64>);
    Some([
        fields.next()?.ok()?,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
    ])
}

/// Idle and total jiffies of the `cpu` line of `/proc/stat` (idle
/// counts `idle` + `iowait`; total every field up to `steal`).
pub(crate) fn parse_cpu_totals(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    if fields.len() < 5 {
        return None;
    }
    Some((fields[3] + fields[4], fields.iter().sum()))
}

/// The share of every CPU's time that was busy during `over` (this
/// thread sleeps meanwhile).
pub(crate) fn busy_share(over: Duration) -> Option<f64> {
    let read = || parse_cpu_totals(&fs::read_to_string("/proc/stat").ok()?);
    let (idle0, total0) = read()?;
    std::thread::sleep(over);
    let (idle1, total1) = read()?;
    let total = total1.checked_sub(total0).filter(|&t| t > 0)?;
    Some(1.0 - idle1.saturating_sub(idle0) as f64 / total as f64)
}

/// The first `model name` of `/proc/cpuinfo`.
pub(crate) fn parse_cpu_model(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// CPU time used so far by process `pid`.
pub(crate) fn process_cpu(pid: u32) -> Option<CpuTicks> {
    parse_stat_cpu(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU time used so far by this process.
pub(crate) fn own_cpu() -> Option<CpuTicks> {
    parse_stat_cpu(&fs::read_to_string("/proc/self/stat").ok()?)
}

/// The processes whose command name (`/proc/<pid>/comm`) is one of
/// `names`, e.g. `postgres` (the server and every backend) or
/// `redis-server`: the store's CPU time is theirs.
pub(crate) fn processes_named(names: &[&str]) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid: &u32| {
            fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| names.contains(&comm.trim_end()))
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// `VmRSS` (resident now) and `VmHWM` (peak resident) of `pid`, in KiB.
pub(crate) fn process_memory_kib(pid: u32) -> Option<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((
        parse_status_kib(&text, "VmRSS")?,
        parse_status_kib(&text, "VmHWM")?,
    ))
}

/// The `Cpus_allowed_list` line of `/proc/<pid>/status` (`0`, `0-1`, …).
pub(crate) fn parse_cpus_allowed(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .map(|list| list.trim().to_owned())
}

/// The CPUs process `pid` may run on, as a `taskset -c` list.
pub(crate) fn process_cpus_allowed(pid: u32) -> Option<String> {
    parse_cpus_allowed(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// CPU time of the calling thread, with the time it waited for a CPU.
pub(crate) fn thread_schedstat() -> Option<SchedStat> {
    parse_schedstat(&fs::read_to_string("/proc/thread-self/schedstat").ok()?)
}

/// The calling thread's id (what `taskset -p` takes), from `/proc/thread-self`.
pub(crate) fn thread_id() -> Option<u32> {
    let link = fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// The machine's load averages.
pub(crate) fn loadavg() -> Option<[f64; 3]> {
    parse_loadavg(&fs::read_to_string("/proc/loadavg").ok()?)
}

/// The CPU model name.
pub(crate) fn cpu_model() -> Option<String> {
    parse_cpu_model(&fs::read_to_string("/proc/cpuinfo").ok()?)
}

/// The kernel release.
pub(crate) fn kernel() -> Option<String> {
    Some(
        fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()?
            .trim()
            .to_owned(),
    )
}

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100,
/// Linux's USER_HZ, if that cannot be asked).
pub(crate) fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        // A command name with spaces and a ')' inside; utime 1234, stime 56.
        let line = "4242 (sigil (a) b) S 1 4242 4242 0 -1 4194560 300 0 0 0 1234 56 0 0 20 0 3 0 100 2000000 800 18446744073709551615";
        assert_eq!(
            parse_stat_cpu(line),
            Some(CpuTicks {
                user: 1234,
                system: 56
            })
        );
        assert_eq!(parse_stat_cpu("4242 (x) S 1 2"), None);
        assert_eq!(parse_stat_cpu("no parenthesis"), None);
    }

    #[test]
    fn ticks_convert_to_time() {
        let before = CpuTicks {
            user: 100,
            system: 50,
        };
        let after = CpuTicks {
            user: 180,
            system: 95,
        };
        assert_eq!(after.since(before, 100), Duration::from_millis(1250));
        assert_eq!(before.since(after, 100), Duration::ZERO);
    }

    #[test]
    fn status_lines() {
        let text = "Name:\tsigil\nVmPeak:\t  900000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   30720 kB\nThreads:\t4\n";
        assert_eq!(parse_status_kib(text, "VmRSS"), Some(30720));
        assert_eq!(parse_status_kib(text, "VmHWM"), Some(40960));
        assert_eq!(parse_status_kib(text, "VmSwap"), None);
        assert_eq!(parse_status_kib(text, "Threads"), None);
        let affinity = "Name:\tsigil\nCpus_allowed:\t1\nCpus_allowed_list:\t0\nMems_allowed:\t1\n";
        assert_eq!(parse_cpus_allowed(affinity).as_deref(), Some("0"));
        assert_eq!(parse_cpus_allowed(text), None);
    }

    #[test]
    fn schedstat_loadavg_and_cpuinfo() {
        assert_eq!(
            parse_schedstat("554826382 655365 26\n"),
            Some(SchedStat {
                run_ns: 554_826_382,
                wait_ns: 655_365
            })
        );
        assert_eq!(parse_schedstat("12"), None);
        assert_eq!(
            parse_loadavg("0.47 0.51 0.23 2/301 11264\n"),
            Some([0.47, 0.51, 0.23])
        );
        assert_eq!(parse_loadavg("0.47 x"), None);
        let stat = "cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 50 2 25 400 10 0 1 1 0 0\n";
        assert_eq!(parse_cpu_totals(stat), Some((820, 981)));
        assert_eq!(parse_cpu_totals("cpu0 1 2 3 4 5\n"), None);
        assert_eq!(parse_cpu_totals("cpu  1 2 x 4 5\n"), None);
        let cpuinfo =
            "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu\n";
        assert_eq!(parse_cpu_model(cpuinfo).as_deref(), Some("AMD EPYC"));
        assert_eq!(parse_cpu_model("processor\t: 0\n"), None);
    }
}
