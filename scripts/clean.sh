#!/usr/bin/env bash
#
# clean.sh - run unstack.sh, then remove what stack.sh installed: the extras.d hooks'
# `clean` and the hypervisor plugin's cleanup_nova_hypervisor, as one hookpipe pipeline.
#
# As in DevStack, unstack.sh --all runs first as a child process (its exit status is
# ignored), and no stage runs under errexit or stops after a failure. Unlike DevStack's,
# this clean.sh runs override_defaults (as unstack.sh does) and calls each hook's `clean`
# once, not twice. The console shows the run; LOGFILE is stack.sh's alone. The exit status
# is the run's (the clean pipeline's).
#
# HOOKPIPE_REPORT_DIR=DIR keeps a copy of every record of the run in DIR/clean.ndjson (what
# scripts/ansible/ fetches from each host).

set -o pipefail

HOOKPIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Run ``unstack.sh`` first, as a child, like DevStack. It runs before lib/stackrc exports
# localrc's settings, so it reads the configuration from the same environment as this
# script: an inherited DEVSTACK_PLUGINS would make localrc's enable_plugin lines die as
# "enabled twice", and an inherited DEST would move where they find the plugins.
"$HOOKPIPE_DIR/scripts/unstack.sh" --all

# shellcheck source=lib/stackrc
source "$HOOKPIPE_DIR/lib/stackrc"
# shellcheck source=lib/toolchain
source "$HOOKPIPE_DIR/lib/toolchain"

list_hooks \
    | "$HOOKPIPE_BIN/hook-run" --keep-going --no-errexit override_defaults \
    | "$HOOKPIPE_BIN/hyp-call" --keep-going --no-errexit --when-enabled nova source \
    | "$HOOKPIPE_BIN/hook-run" --keep-going --no-errexit source \
    | "$HOOKPIPE_BIN/hook-run" clean \
    | "$HOOKPIPE_BIN/hyp-call" --when-enabled nova cleanup \
    | LOGFILE='' "$HOOKPIPE_BIN/phase-log" ${HOOKPIPE_REPORT_DIR:+--records "$HOOKPIPE_REPORT_DIR/clean.ndjson"}
