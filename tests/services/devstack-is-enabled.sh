#!/bin/bash
#
# tests/services/devstack-is-enabled.sh DIR - list every `function is_<name>_enabled` a
# DevStack checkout in DIR defines, one "FILE NAME" line each, sorted: the facts
# shared/hookpipe-services/src/services.rs's DEVSTACK_FUNCTIONS must match. Its output, with
# the header below, is devstack-is-enabled.txt:
#
#   tests/services/devstack-is-enabled.sh ~/devstack > tests/services/devstack-is-enabled.txt

set -o errexit -o pipefail

dir=${1:?usage: devstack-is-enabled.sh DEVSTACK_DIR}
cd "$dir"
echo "# function is_<name>_enabled in DevStack's tree: FILE NAME (devstack-is-enabled.sh)"
if commit=$(git log -1 --format='%H %cs' 2>/dev/null); then
    echo "# DevStack commit $commit"
fi
grep -rn --include='*' -E '^function is_[A-Za-z0-9_]+_enabled[ ({]' -- * \
    | sed -E 's/^([^:]+):[0-9]+:function is_([A-Za-z0-9_]+)_enabled.*/\1 \2/' \
    | LC_ALL=C sort
