#!/bin/bash
#
# tests/services/devstack-hooks.sh - the in-tree is_<svc>_enabled functions that DevStack's
# lib/<svc> files define (devstack-is-enabled.txt lists them; is_plugin_enabled is
# lib/functions' own). Cases whose "hooks" column is "yes" source this after lib/functions;
# shared/hookpipe-services/src/services.rs answers Unknown for these names
# (DEVSTACK_FUNCTIONS) wherever no other rule or known answer already says true.

# lib/keystone: off when any disabled name starts with "keystone", on for the element "key".
function is_keystone_enabled {
    [[ ,${DISABLED_SERVICES-} == *,keystone* ]] && return 1
    [[ ,${ENABLED_SERVICES-}, == *,key,* ]] && return 0
    return 1
}

# lib/nova
function is_nova_enabled {
    [[ ,${DISABLED_SERVICES-} == *,nova* ]] && return 1
    [[ ,${ENABLED_SERVICES-} == *,n-* ]] && return 0
    return 1
}

# lib/glance
function is_glance_enabled {
    [[ ,${DISABLED_SERVICES-} == *,glance* ]] && return 1
    [[ ,${ENABLED_SERVICES-} == *,g-* ]] && return 0
    return 1
}

# lib/cinder
function is_cinder_enabled {
    [[ ,${DISABLED_SERVICES-} == *,cinder* ]] && return 1
    [[ ,${ENABLED_SERVICES-} == *,c-* ]] && return 0
    return 1
}

# lib/swift
function is_swift_enabled {
    [[ ,${DISABLED_SERVICES-} == *,swift* ]] && return 1
    [[ ,${ENABLED_SERVICES-} == *,s-* ]] && return 0
    return 1
}

# lib/neutron: either naming scheme.
function is_neutron_enabled {
    [[ ,${DISABLED_SERVICES-} == *,neutron* ]] && return 1
    [[ ,${ENABLED_SERVICES-} == *,neutron-* || ,${ENABLED_SERVICES-} == *,q-* ]] && return 0
    return 1
}

# lib/neutron-legacy
function is_neutron_legacy_enabled {
    return 0
}

# lib/placement: no disabled check.
function is_placement_enabled {
    [[ ,${ENABLED_SERVICES-} == *,placement-api* ]] && return 0
    return 1
}

# lib/neutron_plugins/ovn_agent: on when the agent is, and then it also enables q-ovn-agent.
function is_ovn_agent_enabled {
    if is_service_enabled q-ovn-agent neutron-ovn-agent || [[ ${TARGET_ENABLE_OVN_AGENT:-False} == True ]]; then
        enable_service q-ovn-agent
        return 0
    fi
    return 1
}

# lib/neutron_plugins/ovn_agent: the metadata agent, unless the OVN agent replaces it.
function is_ovn_metadata_agent_enabled {
    if is_service_enabled q-ovn-metadata-agent neutron-ovn-metadata-agent \
        && [[ ${TARGET_ENABLE_OVN_AGENT:-False} == False ]]; then
        return 0
    fi
    return 1
}

# lib/nova: TLS for the console proxy, from lib/nova's setting (default False).
function is_nova_console_proxy_compute_tls_enabled {
    [[ ${NOVA_CONSOLE_PROXY_COMPUTE_TLS:-False} == True ]]
}

# functions-common: the kernel's FIPS mode.
function is_fips_enabled {
    local fips
    fips=$(cat /proc/sys/crypto/fips_enabled 2>/dev/null)
    [[ "$fips" == 1 ]]
}
