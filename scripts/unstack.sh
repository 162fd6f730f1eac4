#!/usr/bin/env bash
#
# unstack.sh - stop what stack.sh started: the extras.d hooks' `unstack` and the hypervisor
# plugin's stop_nova_hypervisor, as one hookpipe pipeline.
#
# Usage: unstack.sh [-a|--all]   (-a sets UNSTACK_ALL for the hooks, as DevStack's)
#
# As in DevStack: override_defaults and the `source` pass run first, so hooks have their
# functions; no stage runs under errexit and every stage keeps going after a failure. The
# console shows the run; LOGFILE is stack.sh's alone. The exit status is the run's.
#
# HOOKPIPE_REPORT_DIR=DIR keeps a copy of every record of the run in DIR/unstack.ndjson (what
# scripts/ansible/ fetches from each host).

set -o pipefail

UNSTACK_ALL=${UNSTACK_ALL:-}
while getopts ":a" opt; do
    case $opt in
        a) UNSTACK_ALL=-1 ;;
        *) ;;
    esac
done
export UNSTACK_ALL

HOOKPIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/stackrc
source "$HOOKPIPE_DIR/lib/stackrc"
# shellcheck source=lib/toolchain
source "$HOOKPIPE_DIR/lib/toolchain"

list_hooks \
    | "$HOOKPIPE_BIN/hook-run" --keep-going --no-errexit override_defaults \
    | "$HOOKPIPE_BIN/hyp-call" --keep-going --no-errexit --when-enabled nova source \
    | "$HOOKPIPE_BIN/hook-run" --keep-going --no-errexit source \
    | "$HOOKPIPE_BIN/hook-run" unstack \
    | "$HOOKPIPE_BIN/hyp-call" --when-enabled n-cpu stop \
    | LOGFILE='' "$HOOKPIPE_BIN/phase-log" ${HOOKPIPE_REPORT_DIR:+--records "$HOOKPIPE_REPORT_DIR/unstack.ndjson"}
