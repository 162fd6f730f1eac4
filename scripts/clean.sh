#!/usr/bin/env bash
#
# clean.sh - run unstack.sh, then remove what stack.sh installed: the extras.d hooks'
# `clean` and the hypervisor plugin's cleanup_nova_hypervisor, as one hookpipe pipeline.
#
# As in DevStack, unstack.sh --all runs first as a child process, and no stage runs under
# errexit or stops after a failure. Unlike DevStack's, this clean.sh runs override_defaults
# (as unstack.sh does) and calls each hook's `clean` once, not twice, and the child's
# records go to this script's phase-log: one run, one report, whose result counts the
# unstack calls too (DevStack ignores unstack.sh's exit status; hookpipe does not hide a
# failed call). The console shows the run; LOGFILE is stack.sh's alone. Same options as
# stack.sh (--help).

set -o pipefail

HOOKPIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ``unstack.sh`` runs first, as a child, like DevStack. It must read the configuration
# from the same environment as this script, before lib/stackrc exports localrc's settings:
# an inherited DEVSTACK_PLUGINS would make localrc's enable_plugin lines die as "enabled
# twice", and an inherited DEST would move where they find the plugins. So the environment
# is kept now and given back to the child alone.
_HOOKPIPE_CALLER_ENV=$(export -p)

# shellcheck source=lib/stackrc
source "$HOOKPIPE_DIR/lib/stackrc"
# shellcheck source=lib/toolchain
source "$HOOKPIPE_DIR/lib/toolchain"
# shellcheck source=lib/pipeline
source "$HOOKPIPE_DIR/lib/pipeline"

parse_script_args clean.sh "$@"

# clean_stages - unstack.sh --all (its records only: one run, one report), then every stage
# of the clean run but phase-log, in DevStack's order
function clean_stages {
    # shellcheck disable=SC2016 # expanded by the child
    env -i _HOOKPIPE_RECORDS_ONLY=1 bash -c 'eval "$1"; exec "$2" --all' \
        unstack "$_HOOKPIPE_CALLER_ENV" "$HOOKPIPE_DIR/scripts/unstack.sh"
    list_hooks \
        | "$HOOKPIPE_BIN/hook-run" --keep-going --no-errexit override_defaults \
        | "$HOOKPIPE_BIN/hyp-call" --keep-going --no-errexit --when-enabled nova source \
        | "$HOOKPIPE_BIN/hook-run" --keep-going --no-errexit source \
        | "$HOOKPIPE_BIN/hook-run" clean \
        | "$HOOKPIPE_BIN/hyp-call" --when-enabled nova cleanup
    hookpipe_stage_statuses "${PIPESTATUS[@]}"
}

# LOGFILE is stack.sh's alone.
run_pipeline clean.sh clean_stages ""
