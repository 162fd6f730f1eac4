//! The run as the file reports (`junit`, `html`) lay it out: hook calls and skipped calls
//! grouped by host and stage (hosts, then each host's stages, in the order they first
//! appeared: a lane per host in a merged run), rows in arrival order, with
//! the status word, times and the name each report shows. Built from the [`Ledger`] at
//! the end; nothing here reads a clock, so a replayed stream gives the same reports.

use crate::ledger::{Call, Ledger, SkippedCall};
use crate::report::status_of;

/// One row: a call that ran (or began), or one that was skipped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Row<'a> {
    Call(&'a Call),
    Skipped(&'a SkippedCall),
}

impl<'a> Row<'a> {
    pub(crate) fn id(&self) -> &'a str {
        match self {
            Row::Call(call) => &call.id,
            Row::Skipped(skip) => &skip.id,
        }
    }

    /// The call's name within its stage: the id without the `<stage>/` prefix
    /// (`50-template.sh`, `10-cat.sh#source`), so a stage's rows never share a name.
    pub(crate) fn short_name(&self, stage: &str) -> &'a str {
        let id = self.id();
        id.strip_prefix(stage)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(id)
    }

    /// `ok`, `failed`, `timeout`, `killed`, `interrupted`, `unfinished` or `skipped`.
    pub(crate) fn status(&self) -> &'a str {
        match self {
            Row::Call(call) => status_of(call),
            Row::Skipped(_) => "skipped",
        }
    }

    pub(crate) fn start_ms(&self) -> Option<u64> {
        match self {
            Row::Call(call) => call.start_ms(),
            Row::Skipped(skip) => skip.time_ms,
        }
    }

    pub(crate) fn end_ms(&self) -> Option<u64> {
        match self {
            Row::Call(call) => call.end_ms(),
            Row::Skipped(skip) => skip.time_ms,
        }
    }

    /// The call's own duration; `None` for a call that never ended, 0 for a skip.
    pub(crate) fn duration_ms(&self) -> Option<u64> {
        match self {
            Row::Call(call) => call.end.as_ref().map(|end| end.duration_ms),
            Row::Skipped(_) => Some(0),
        }
    }

    fn seq(&self) -> usize {
        match self {
            Row::Call(call) => call.seq as usize,
            Row::Skipped(skip) => skip.seq,
        }
    }

    /// The host of the call (`None` in a stream without hosts).
    pub(crate) fn host(&self) -> Option<&'a str> {
        match self {
            Row::Call(call) => call.host.as_deref(),
            Row::Skipped(skip) => skip.host.as_deref(),
        }
    }
}

/// A stage of one host and its rows.
#[derive(Debug)]
pub(crate) struct Stage<'a> {
    pub host: Option<&'a str>,
    pub name: &'a str,
    pub rows: Vec<Row<'a>>,
}

impl Stage<'_> {
    /// The stage's name, after its host when it has one: `subnode1: stack/install`.
    pub(crate) fn title(&self) -> String {
        title(self.host, self.name)
    }

    /// Sum of the calls' durations.
    pub(crate) fn duration_ms(&self) -> u64 {
        self.rows
            .iter()
            .filter_map(Row::duration_ms)
            .fold(0, u64::saturating_add)
    }

    /// Rows of this status.
    pub(crate) fn count(&self, status: &str) -> usize {
        self.rows
            .iter()
            .filter(|row| row.status() == status)
            .count()
    }

    /// From the first start to the last end of its rows.
    pub(crate) fn span(&self) -> Option<(u64, u64)> {
        let first = self.rows.iter().filter_map(Row::start_ms).min()?;
        let last = self
            .rows
            .iter()
            .filter_map(|row| row.end_ms().or(row.start_ms()))
            .max()?;
        Some((first, last.max(first)))
    }
}

/// `stage`, after `host` when there is one: `subnode1: stack/install`.
pub(crate) fn title(host: Option<&str>, stage: &str) -> String {
    match host {
        Some(host) => format!("{host}: {stage}"),
        None => stage.to_owned(),
    }
}

/// The stage of a skipped call: its `stage` field, else the id up to its last `/`.
fn skip_stage(skip: &SkippedCall) -> &str {
    skip.stage
        .as_deref()
        .or_else(|| skip.id.rsplit_once('/').map(|(stage, _)| stage))
        .unwrap_or("")
}

/// Every call and skipped call, grouped by stage; see the module docs.
pub(crate) fn stages(ledger: &Ledger) -> Vec<Stage<'_>> {
    let mut rows: Vec<(&str, Row<'_>)> = ledger
        .calls
        .iter()
        .map(|call| (&*call.stage, Row::Call(call)))
        .chain(
            ledger
                .skipped
                .iter()
                .map(|skip| (skip_stage(skip), Row::Skipped(skip))),
        )
        .collect();
    rows.sort_by_key(|(_, row)| row.seq());
    let mut stages: Vec<Stage<'_>> = Vec::new();
    for (name, row) in rows {
        let host = row.host().filter(|_| ledger.show_hosts);
        match stages
            .iter_mut()
            .find(|stage| stage.name == name && stage.host == host)
        {
            Some(stage) => stage.rows.push(row),
            None => stages.push(Stage {
                host,
                name,
                rows: vec![row],
            }),
        }
    }
    // Each host's stages together, hosts in the order they appeared (stable: a host's
    // stages keep theirs).
    let mut hosts: Vec<Option<&str>> = Vec::new();
    for stage in &stages {
        if !hosts.contains(&stage.host) {
            hosts.push(stage.host);
        }
    }
    stages.sort_by_key(|stage| hosts.iter().position(|host| *host == stage.host));
    stages
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpipe::record::{End, EndStatus, HookKind, Skip, SkipReason, Start};

    fn start(id: &str, stage: &str) -> Start {
        let time = "2026-11-24T22:29:14.000Z".into();
        Start::new(id.into(), stage.into(), HookKind::Extras, time)
    }

    #[test]
    fn stages_keep_first_appearance_and_arrival_order() {
        let mut ledger = Ledger::default();
        for (id, stage) in [("b/1.sh", "b"), ("a/2.sh", "a"), ("b/3.sh#source", "b")] {
            ledger.start(&start(id, stage));
        }
        ledger.run_skip(&Skip {
            id: Some("a/9.sh".into()),
            ..Skip::new(SkipReason::Stopped, String::new())
        });
        ledger.end(&End {
            duration_ms: 5,
            ..End::new(
                "b/1.sh".into(),
                "b".into(),
                EndStatus::Ok,
                "2026-11-24T22:29:14.005Z".into(),
            )
        });
        let got: Vec<(&str, Vec<(&str, &str)>)> = stages(&ledger)
            .iter()
            .map(|stage| {
                let rows = stage
                    .rows
                    .iter()
                    .map(|row| (row.short_name(stage.name), row.status()))
                    .collect();
                (stage.name, rows)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("b", vec![("1.sh", "ok"), ("3.sh#source", "unfinished")]),
                ("a", vec![("2.sh", "unfinished"), ("9.sh", "skipped")]),
            ]
        );
    }

    #[test]
    fn each_host_gets_its_own_stages_together() {
        let mut ledger = Ledger::default();
        ledger.show_hosts = true;
        for (host, id) in [("ctl", "s/1.sh"), ("sub", "s/1.sh"), ("ctl", "t/2.sh")] {
            ledger.set_host(Some(host));
            let stage = id.split('/').next().unwrap_or_default();
            ledger.start(&start(id, stage));
        }
        let got: Vec<(String, usize)> = stages(&ledger)
            .iter()
            .map(|stage| (stage.title(), stage.rows.len()))
            .collect();
        assert_eq!(
            got,
            [
                ("ctl: s".to_owned(), 1),
                ("ctl: t".to_owned(), 1),
                ("sub: s".to_owned(), 1)
            ]
        );
    }
}
