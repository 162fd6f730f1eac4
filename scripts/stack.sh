#!/usr/bin/env bash
#
# stack.sh - run the extras.d hooks and the hypervisor plugin through DevStack's stack.sh
# stages, as one hookpipe pipeline, and log the run.
#
# Configuration comes from lib/stackrc (the environment, TOP_DIR/localrc or the
# [[local|localrc]] section of TOP_DIR/local.conf); the tools from lib/toolchain. Every
# stage runs its hooks under errexit and nothing runs after the first failure, as in
# DevStack. Plugins enabled in localrc (enable_plugin) run after the extras.d hooks, in
# enable order, from their checkouts (GITDIR[NAME]); a plugin that is not checked out stops
# the run before any hook, where DevStack's clone would. The exit status is the run's, as
# phase-log reports it, or a failed stage's when phase-log could not see it (lib/pipeline).
#
# Usage: stack.sh [--junit FILE] [--json-report FILE] [--html FILE] [--records FILE]
#        (or HOOKPIPE_REPORT_DIR=DIR for all four; see --help)
#
# DevStack's async jobs (lib/async) work across the stages: $DEST/async is emptied first
# (DevStack's async_init), a runner stops the jobs still running when the run fails or is
# interrupted, and at the end of a successful run the jobs nobody awaited are named and
# collected (DevStack's async_cleanup, in run_pipeline).

set -o pipefail

HOOKPIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/stackrc
source "$HOOKPIPE_DIR/lib/stackrc"
# shellcheck source=lib/toolchain
source "$HOOKPIPE_DIR/lib/toolchain"
# shellcheck source=lib/pipeline
source "$HOOKPIPE_DIR/lib/pipeline"

parse_script_args stack.sh "$@"

# DevStack clones the plugins here (fetch_plugins); hookpipe expects them checked out, and
# stops before any hook runs when one is not.
check_plugin_checkouts

# This shell leads the run: a job still running when it ends is stopped.
async_init

# stack_stages - every stage of the run but phase-log, in DevStack's order
function stack_stages {
    list_hooks \
        | "$HOOKPIPE_BIN/hook-run" override_defaults \
        | "$HOOKPIPE_BIN/hyp-call" --when-enabled nova source \
        | "$HOOKPIPE_BIN/hook-run" source --verify-disabled \
        | "$HOOKPIPE_BIN/hook-run" stack pre-install \
        | "$HOOKPIPE_BIN/hyp-call" --when-enabled n-cpu install configure \
        | "$HOOKPIPE_BIN/hook-run" stack install \
        | "$HOOKPIPE_BIN/hook-run" stack post-config \
        | "$HOOKPIPE_BIN/hyp-call" --when-enabled n-cpu start \
        | "$HOOKPIPE_BIN/hook-run" stack extra \
        | "$HOOKPIPE_BIN/hook-run" stack test-config
    hookpipe_stage_statuses "${PIPESTATUS[@]}"
}

run_pipeline stack.sh stack_stages "$LOGFILE"
