#!/bin/bash
#
# run-phase.bash PRELUDE TOP_DIR - the dispatch baseline: what DevStack's stack.sh does with
# its hooks, in one shell. It sources the prelude, turns errexit on (stack.sh does before its
# first run_phase), then makes stack.sh's seven run_phase calls, each a function that loops
# over $TOP_DIR/extras.d/*.sh and sources every readable file with the mode and phase
# (docs/devstack.md §1 and §2). Unlike modern DevStack it runs every hook, not
# only 80-tempest.sh, as hookpipe does.

prelude=$1
TOP_DIR=$2

# shellcheck disable=SC1090 # the prelude is the suite's choice
source "$prelude"

set -o errexit

# run_phase MODE [PHASE] - source each extras.d hook with MODE and PHASE; an empty PHASE
# vanishes, as DevStack's unquoted "$mode $phase" does.
function run_phase {
    local mode=$1
    local phase=${2:-}
    local -a args=("$mode")
    if [[ -n "$phase" ]]; then
        args+=("$phase")
    fi
    if [[ -d "$TOP_DIR/extras.d" ]]; then
        local i
        for i in "$TOP_DIR"/extras.d/*.sh; do
            # shellcheck disable=SC1090 # hooks are data
            [[ -r "$i" ]] && source "$i" "${args[@]}"
        done
    fi
}

run_phase override_defaults
run_phase source
run_phase stack pre-install
run_phase stack install
run_phase stack post-config
run_phase stack extra
run_phase stack test-config
