#!/bin/bash
#
# tests/services/run-case.sh - run one case of cases.tsv against lib/services, for
# shared/hookpipe-services/tests/services_cases.rs.
#
#   run-case.sh REPO RESULT_FILE HOOKS OP ENABLED DISABLED [ARG...]
#
# Sources REPO/lib/functions (and, with HOOKS "yes", devstack-hooks.sh), sets the two lists,
# runs OP with the ARGs, then writes "STATUS\0ENABLED\0DISABLED\0" to RESULT_FILE. The
# functions' own output (warnings, die's trace and error) stays on stdout and stderr; an
# operation that exits (die) writes no result. Every value arrives as an argument: nothing
# from the case table is ever pasted into shell code.

repo=$1 result=$2 hooks=$3 op=$4
ENABLED_SERVICES=$5
DISABLED_SERVICES=$6
shift 6

# shellcheck source=lib/functions
source "$repo/lib/functions"
if [[ $hooks == yes ]]; then
    # shellcheck source=tests/services/devstack-hooks.sh
    source "$repo/tests/services/devstack-hooks.sh"
fi

case $op in
    is) is_service_enabled "$@" ;;
    enable) enable_service "$@" ;;
    disable) disable_service "$@" ;;
    negate) disable_negated_services ;;
    cleanup) ENABLED_SERVICES=$(_cleanup_service_list "$ENABLED_SERVICES") ;;
    disable_all) disable_all_services ;;
    verify) verify_disabled_services ;;
    *)
        echo "run-case.sh: unknown operation $op" >&2
        exit 64
        ;;
esac
status=$?
printf '%s\0%s\0%s\0' "$status" "$ENABLED_SERVICES" "$DISABLED_SERVICES" >"$result"
