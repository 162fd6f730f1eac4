# shellcheck shell=bash
# template.sh - DevStack extras script to install, start, stop and clean the template demo
# service (lib/template): a local daemon that writes a heartbeat with a configured greeting.

if is_service_enabled template; then
    if [[ "$1" == "source" ]]; then
        # Initial source: defines the template functions for every later phase and hook
        # shellcheck source=lib/template
        source "$TOP_DIR/lib/template"
    elif [[ "$1" == "stack" && "$2" == "pre-install" ]]; then
        echo_summary "Installing template prerequisites"
        # Word splitting is on purpose: TEMPLATE_PACKAGES is a blank-separated list.
        # shellcheck disable=SC2086
        install_package $TEMPLATE_PACKAGES
    elif [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing template"
        install_template
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring template"
        configure_template
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Initializing and starting template"
        init_template
        start_template
    fi

    if [[ "$1" == "unstack" ]]; then
        echo_summary "Stopping template"
        stop_template
    fi

    if [[ "$1" == "clean" ]]; then
        echo_summary "Cleaning up template"
        cleanup_template
    fi
fi
