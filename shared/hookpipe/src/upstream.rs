//! What a stage learns about the stages before it from the records passing through
//! (docs/architecture.md rule 3): a failed hook call, a tool that ended badly or died without a
//! word, an interrupt. Runners use it to decide whether to act; phase-log to decide the run's
//! status. It keeps a handful of small values, never the records themselves.

use std::collections::HashMap;

use crate::record::{Begin, Done, End, EndStatus};

/// The first upstream failure seen, for the `skip` message and the failure report.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A hook call ended with a status other than `ok`.
    Hook { id: String, status: EndStatus },
    /// A tool ended with status 2 or more, or by a signal; `message` is its `done`'s.
    Tool {
        tool: String,
        stage: String,
        status: i32,
        message: Option<String>,
    },
    /// A tool wrote `begin` and never `done`: it crashed or was killed.
    Vanished { tool: String, stage: String },
}

impl Failure {
    /// One line for people: what failed upstream.
    pub fn describe(&self) -> String {
        match self {
            Failure::Hook { id, status } => format!("{id} {status}"),
            Failure::Tool {
                tool,
                stage,
                status,
                message: None,
            } => format!("{tool} ({stage}) exited with status {status}"),
            Failure::Tool {
                tool,
                stage,
                status,
                message: Some(message),
            } => format!("{tool} ({stage}) exited with status {status}: {message}"),
            Failure::Vanished { tool, stage } => {
                format!("{tool} ({stage}) ended without a done record")
            }
        }
    }
}

/// Tracks the state of the stream seen so far; feed it every record's parts.
#[derive(Debug, Default)]
pub struct Upstream {
    open: HashMap<(String, String, u32), ()>,
    first_failure: Option<Failure>,
    interrupted: bool,
    negative: bool,
}

impl Upstream {
    pub fn begin(&mut self, begin: &Begin) {
        self.open
            .insert((begin.tool.clone(), begin.stage.clone(), begin.pid), ());
    }

    pub fn done(&mut self, done: &Done) {
        self.open
            .retain(|(tool, stage, _), _| !(tool == &done.tool && stage == &done.stage));
        if done.status == 1 {
            self.negative = true;
        }
        if done.status == 130 || done.status == 143 {
            self.interrupted = true;
        }
        // Any status but 0, 1 and 141 is a failure, including ones no tool writes.
        if !matches!(done.status, 0 | 1 | 141) {
            self.fail(Failure::Tool {
                tool: done.tool.clone(),
                stage: done.stage.clone(),
                status: done.status,
                message: done.message.clone(),
            });
        }
    }

    pub fn end(&mut self, end: &End) {
        if end.status == EndStatus::Interrupted {
            self.interrupted = true;
        }
        if end.status != EndStatus::Ok {
            self.negative = true;
            self.fail(Failure::Hook {
                id: end.id.clone(),
                status: end.status,
            });
        }
    }

    /// Call at the end of input: any tool still open vanished.
    pub fn finish(&mut self) {
        let mut open: Vec<_> = self.open.drain().map(|(key, ())| key).collect();
        open.sort();
        for (tool, stage, _) in open {
            self.fail(Failure::Vanished { tool, stage });
        }
    }

    fn fail(&mut self, failure: Failure) {
        self.negative = true;
        if self.first_failure.is_none() {
            self.first_failure = Some(failure);
        }
    }

    /// The first failure seen, if any.
    pub fn failure(&self) -> Option<&Failure> {
        self.first_failure.as_ref()
    }

    /// Whether any stage reported an interrupt (after which no stage starts hooks).
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Whether anything upstream was negative (a failed hook, a status-1 tool).
    pub fn negative(&self) -> bool {
        self.negative
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(tool: &str) -> Begin {
        Begin {
            tool: tool.into(),
            stage: "s".into(),
            pid: 1,
            version: "0".into(),
            time: String::new(),
        }
    }

    fn done(tool: &str, status: i32) -> Done {
        Done {
            tool: tool.into(),
            stage: "s".into(),
            status,
            time: String::new(),
            message: None,
        }
    }

    #[test]
    fn begin_without_done_is_a_failure() {
        let mut up = Upstream::default();
        up.begin(&begin("hook-list"));
        up.finish();
        assert!(matches!(up.failure(), Some(Failure::Vanished { .. })));
    }

    #[test]
    fn clean_stream_has_no_failure() {
        let mut up = Upstream::default();
        up.begin(&begin("hook-list"));
        up.done(&done("hook-list", 0));
        up.finish();
        assert_eq!(up.failure(), None);
        assert!(!up.negative());
    }

    #[test]
    fn status_one_is_negative_but_not_a_stop() {
        let mut up = Upstream::default();
        up.done(&done("hyp-resolve", 1));
        assert!(up.negative());
        assert_eq!(up.failure(), None);
    }

    #[test]
    fn interrupt_is_seen() {
        let mut up = Upstream::default();
        up.done(&done("hook-run", 130));
        assert!(up.interrupted());
        assert!(up.failure().is_some());
    }
}
