#!/usr/bin/env bash
#
# clean.sh - run unstack.sh, then remove what stack.sh installed: the extras.d hooks'
# `clean` and the hypervisor plugin's cleanup_nova_hypervisor, as one hookpipe pipeline.
#
# As in DevStack, unstack.sh --all runs first as a child process (its exit status is
# ignored), and no stage runs under errexit or stops after a failure. Unlike DevStack's,
# this clean.sh runs override_defaults (as unstack.sh does) and calls each hook's `clean`
# once, not twice. The console shows the run; LOGFILE is stack.sh's alone. The exit status
# is the run's (the clean pipeline's). The checkpoints of stack.sh's run directory go too.
#
# Usage: clean.sh [--reverse]   (or HOOKPIPE_REVERSE=True: unstack and clean call their hooks
# in reverse order, plugins first, then extras.d higher numbers first)

set -o pipefail

HOOKPIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

for arg in "$@"; do
    case $arg in
        --reverse) export HOOKPIPE_REVERSE=True ;;
        *) ;;
    esac
done

# Run ``unstack.sh`` first, as a child, like DevStack. It runs before lib/stackrc exports
# localrc's settings, so it reads the configuration from the same environment as this
# script: an inherited DEVSTACK_PLUGINS would make localrc's enable_plugin lines die as
# "enabled twice", and an inherited DEST would move where they find the plugins.
"$HOOKPIPE_DIR/scripts/unstack.sh" --all

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
    | "$HOOKPIPE_BIN/hook-run" "${HOOKPIPE_REVERSE_FLAGS[@]}" clean \
    | "$HOOKPIPE_BIN/hyp-call" --when-enabled nova cleanup \
    | LOGFILE='' "$HOOKPIPE_BIN/phase-log"
status=$?
forget_checkpoints
exit $status
