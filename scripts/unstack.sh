#!/usr/bin/env bash
#
# unstack.sh - stop what stack.sh started: the extras.d hooks' `unstack` and the hypervisor
# plugin's stop_nova_hypervisor, as one hookpipe pipeline.
#
# Usage: unstack.sh [-a|--all] [--reverse]   (-a sets UNSTACK_ALL for the hooks, as
# DevStack's; --reverse, or HOOKPIPE_REVERSE=True, calls the `unstack` hooks in reverse
# order: plugins first, the last enabled first, then extras.d higher numbers first)
#
# As in DevStack: override_defaults and the `source` pass run first, so hooks have their
# functions; no stage runs under errexit and every stage keeps going after a failure. The
# console shows the run; LOGFILE is stack.sh's alone. The exit status is the run's.

set -o pipefail

UNSTACK_ALL=${UNSTACK_ALL:-}
for arg in "$@"; do
    case $arg in
        -a|--all) UNSTACK_ALL=-1 ;;
        --reverse) export HOOKPIPE_REVERSE=True ;;
        *) ;;
    esac
done
export UNSTACK_ALL

HOOKPIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/stackrc
source "$HOOKPIPE_DIR/lib/stackrc"
# shellcheck source=lib/toolchain
source "$HOOKPIPE_DIR/lib/toolchain"
# shellcheck source=lib/checkpoints
source "$HOOKPIPE_DIR/lib/checkpoints"

list_hooks \
    | "$HOOKPIPE_BIN/hook-run" --keep-going --no-errexit override_defaults \
    | "$HOOKPIPE_BIN/hyp-call" --keep-going --no-errexit --when-enabled nova source \
    | "$HOOKPIPE_BIN/hook-run" --keep-going --no-errexit source \
    | "$HOOKPIPE_BIN/hook-run" "${HOOKPIPE_REVERSE_FLAGS[@]}" unstack \
    | "$HOOKPIPE_BIN/hyp-call" --when-enabled n-cpu stop \
    | LOGFILE='' "$HOOKPIPE_BIN/phase-log"
