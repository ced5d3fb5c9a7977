//! `sigil-bench ceiling`, and the ceilings every other subcommand measures
//! first.

use std::thread;

use serde::Serialize;

use crate::ceiling::{Ceiling, measure_ceiling};
use crate::cli::CeilingArgs;
use crate::measure::BatchPlan;
use crate::pin;
use crate::report::{self, Machine};
use crate::requests::{FormArg, SchemeArg};

/// An issuer as long as the ones of the load runs (`http://127.0.0.1:PORT`).
pub(crate) const CEILING_ISSUER: &str = "http://127.0.0.1:40000";

/// Measures the ceiling of every pair on a thread of its own, pinned to
/// `cpus` when given (the server's CPUs, so the ceiling is that core's).
///
/// # Errors
/// When pinning fails or a ceiling's own request is refused.
pub(crate) fn measure_all(
    pairs: &[(SchemeArg, FormArg)],
    plan: BatchPlan,
    components: bool,
    cpus: Option<&str>,
) -> anyhow::Result<Vec<Ceiling>> {
    let pairs = pairs.to_vec();
    let cpus = cpus.map(str::to_owned);
    thread::Builder::new()
        .name("sigil-bench-ceiling".into())
        .spawn(move || {
            if let Some(list) = &cpus {
                pin::pin_current_thread(list)?;
            }
            pairs
                .iter()
                .map(|&(scheme, form)| {
                    eprintln!(
                        "measuring the {} {} ceiling…",
                        scheme.as_str(),
                        form.as_str()
                    );
                    measure_ceiling(scheme, form, CEILING_ISSUER, plan, components)
                })
                .collect()
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("the ceiling thread panicked"))?
}

#[derive(Serialize)]
struct CeilingReport {
    machine: Machine,
    pinned_to: Option<String>,
    ceilings: Vec<Ceiling>,
}

/// Runs `sigil-bench ceiling`.
///
/// # Errors
/// As [`measure_all`].
pub(crate) fn run(args: &CeilingArgs) -> anyhow::Result<()> {
    let machine = Machine::read();
    let pairs: Vec<_> = args
        .scheme
        .iter()
        .flat_map(|&s| args.form.iter().map(move |&f| (s, f)))
        .collect();
    let ceilings = measure_all(
        &pairs,
        args.batch.plan(),
        !args.no_components,
        args.cpus.as_deref(),
    )?;
    if args.json {
        let report = CeilingReport {
            machine,
            pinned_to: args.cpus.clone(),
            ceilings,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", machine.line());
        print!("{}", report::ceilings_table(&ceilings));
    }
    Ok(())
}
