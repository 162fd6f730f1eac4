# shellcheck shell=bash
# template-check.sh - DevStack extras script that checks the template demo service once it
# runs. It must sort after 50-template.sh: it calls template_status and template_beats,
# which only exist because 50-template.sh sourced lib/template in the `source` phase.

if is_service_enabled template; then
    if [[ "$1" == "stack" && "$2" == "extra" ]]; then
        # 50-template.sh has just started the daemon: wait for its first heartbeat.
        echo_summary "Checking that template is alive"
        template_status "$TEMPLATE_STATUS_TIMEOUT" \
            || die $LINENO "template did not start: see $TEMPLATE_LOG"
    elif [[ "$1" == "stack" && "$2" == "test-config" ]]; then
        echo_summary "Final template check"
        template_status "$TEMPLATE_STATUS_TIMEOUT" \
            || die $LINENO "template is not healthy at the end of the run: see $TEMPLATE_LOG"
        echo_summary "template heartbeats so far: $(template_beats), in $TEMPLATE_HEARTBEAT"
    fi
fi
