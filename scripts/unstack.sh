#!/usr/bin/env bash
#
# unstack.sh - stop what stack.sh started: the extras.d hooks' `unstack` and the hypervisor
# plugin's stop_nova_hypervisor, as one hookpipe pipeline.
#
# Usage: unstack.sh [-a|--all] [--junit FILE] [--json-report FILE] [--html FILE]
#        [--records FILE]   (-a sets UNSTACK_ALL for the hooks, as DevStack's; see --help)
#
# As in DevStack: override_defaults and the `source` pass run first, so hooks have their
# functions; no stage runs under errexit and every stage keeps going after a failure. The
# console shows the run; LOGFILE is stack.sh's alone. The exit status is the run's.

set -o pipefail

UNSTACK_ALL=${UNSTACK_ALL:-}

HOOKPIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/stackrc
source "$HOOKPIPE_DIR/lib/stackrc"
# shellcheck source=lib/toolchain
source "$HOOKPIPE_DIR/lib/toolchain"
# shellcheck source=lib/pipeline
source "$HOOKPIPE_DIR/lib/pipeline"

parse_script_args unstack.sh "$@"
export UNSTACK_ALL

# unstack_stages - every stage of the run but phase-log, in DevStack's order
function unstack_stages {
    list_hooks \
        | "$HOOKPIPE_BIN/hook-run" --keep-going --no-errexit override_defaults \
        | "$HOOKPIPE_BIN/hyp-call" --keep-going --no-errexit --when-enabled nova source \
        | "$HOOKPIPE_BIN/hook-run" --keep-going --no-errexit source \
        | "$HOOKPIPE_BIN/hook-run" unstack \
        | "$HOOKPIPE_BIN/hyp-call" --when-enabled n-cpu stop
    hookpipe_stage_statuses "${PIPESTATUS[@]}"
}

# clean.sh's child: the records go to clean.sh's own phase-log, so one run has one report.
if [[ -n "${_HOOKPIPE_RECORDS_ONLY:-}" ]]; then
    unstack_stages
    exit 0
fi

# LOGFILE is stack.sh's alone.
run_pipeline unstack.sh unstack_stages ""
