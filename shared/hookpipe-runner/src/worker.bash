# shellcheck shell=bash
# hookpipe worker: the bash process a runner drives to source hooks (see worker.rs).
#
# The runner starts this script with `bash --noprofile --norc -c`, in a session of its own,
# with these descriptors already open:
#   0   /dev/null: a hook must never eat the record stream
#   1 2 the stdout and stderr pipes whose lines become `output` records
#   3   the same pipe as 1 (DevStack's "console" descriptor, used by echo_nolog)
#   6   the summary pipe: each line written to it directly becomes a `summary` record, in
#       the order the runner reads it (echo_summary does not use it: see _hp_summary)
#   60  commands from the runner; 61 events to the runner; 62 bash's xtrace (BASH_XTRACEFD)
#   63 64 the worker's own copies of 1 and 2, handed to each call afresh
# A hook may redirect or close any of these (`exec 6>&1`, `exec 61>&-`, closing 3-9). So the
# end of a call never depends on one of them: before it reports anything after a call, the
# worker reopens every descriptor from the runner's own ends of the pipes
# (/proc/RUNNER/fd/N, positional parameters 1-7), which no hook can reach, and then writes
# its markers and `done`. A hook that plays with its descriptors spoils only its own output.
# Commands and events are NUL-separated fields, so paths and arguments travel as data and
# are never pasted into code.
#
# Commands:  source PATH N ARG...     source PATH with exactly N positional parameters
#            call PATH FUNC N ARG...  call FUNC, sourcing PATH first unless FUNC exists
#            batch DATA SCRIPT stop|go  run a batch of calls (_hp_batch)
#            check SERVICE            is_service_enabled SERVICE (0 or 1)
#            load FILE                source a state script
#            dump FILE                write the shell state (see _hp_dump)
#            errexit on|off, trace on|off, exitdump FILE, marker TOKEN
# Events:    done STATUS after each command (done STATUS START END in a batch, then batch);
#            signal N when TERM ends the worker; warning
#            TEXT and timer NAME MS come from lib/functions while a hook runs, job EVENT
#            NAME PID RC START END STARTED_BY DETAIL from lib/async.

_HOOKPIPE_EVENT_FD=61
# Where the runner's ends of the worker's pipes are (see above): RUNNER OUT ERR SUMMARY
# EVENTS TRACE COMMANDS.
_hp_ends=/proc/$1/fd
_hp_fd_out=$2 _hp_fd_err=$3 _hp_fd_summary=$4 _hp_fd_events=$5 _hp_fd_trace=$6 _hp_fd_commands=$7
# Any `set -x`, ours for --xtrace or a hook's own, traces into `trace` records.
BASH_XTRACEFD=62
# Private copies of the output pipes: every call gets them as its stdout and stderr, so a
# hook that closes or redirects its own (`exec 1>&-`) spoils only itself.
exec 63>&1 64>&2

# _hp_restore: reopen every descriptor of the header from the runner's ends of the pipes,
# whatever the last call did to them. Opening /proc/PID/fd/N of a pipe opens that pipe anew
# (write-only here), so nothing the hook did in this process can stand in the way. A runner
# that is gone leaves nothing to report to: the worker ends.
_hp_restore() {
    _hp_reclaim
    command exec 0</dev/null \
        63>"$_hp_ends/$_hp_fd_out" 64>"$_hp_ends/$_hp_fd_err" 6>"$_hp_ends/$_hp_fd_summary" \
        61>"$_hp_ends/$_hp_fd_events" 62>"$_hp_ends/$_hp_fd_trace" 1>&63 2>&64 3>&63 ||
        builtin exit 70
    # A hook that pointed xtrace elsewhere (or unset it) gets it back; assigning the same
    # number again would make bash close the descriptor, so only when it differs.
    if [[ ${BASH_XTRACEFD:-} != 62 ]]; then BASH_XTRACEFD=62; fi
}

# _hp_summary TEXT...: an echo_summary line, in-band on the stdout pipe: NUL, the marker,
# \x01, the text as `echo -e` renders it, NUL. One pipe and one writer make a summary land
# between the output written before and after it by construction, which a separate pipe
# read beside stdout cannot promise. Written to the worker's own copy of the pipe (63), as
# DevStack's echo_summary writes to fd 6 whatever the hook did to its stdout; a hook that
# closed 63 still gets its summary, on fd 6 (ordered only by arrival there).
# shellcheck disable=SC2317 # called by the hooks' echo_summary
_hp_summary() {
    builtin local _hp_text
    # %b is `echo -e`'s escapes; a text with NUL cannot be held in a variable anyway.
    builtin printf -v _hp_text '%b' "$*"
    builtin printf '\0%s\1%s\0' "$_hp_marker" "$_hp_text" >&63 ||
        builtin printf '%s\n' "$_hp_text" >&6
}

# _hp_own_summary: echo_summary is the worker's (_hp_summary), whatever the prelude or a
# loaded state defined (DevStack's stack.sh defines one writing to fd 6, which a legacy
# caller's state brings along). The state never carries this definition (state.rs), so a
# legacy caller gets its own echo_summary back.
_hp_own_summary() {
    # shellcheck disable=SC2317 # called by the hooks
    echo_summary() { _hp_summary "$@"; }
}

# _hp_reclaim: the builtins the worker needs, whatever the last call did. The worker calls
# every builtin through `builtin` (a hook's function named `printf`, `read`, `source` or `set`
# is never called by it); a function named `builtin` or `command` is removed and builtins
# disabled with `enable -n` are enabled again. POSIXLY_CORRECT is an assignment, which no
# function can stand in for, and in POSIX mode the special builtin `unset` is found before
# any function of that name.
_hp_reclaim() {
    _hp_reclaiming=yes
    # No redirection of stderr here: each would open /dev/null after every call. Neither
    # command fails while `enable` and `unset` are builtins (unset -f of no function is not
    # an error); when a hook disabled them too, the message is the call's own.
    POSIXLY_CORRECT=y
    unset -f builtin command
    builtin enable builtin command enable unset printf read source set declare mapfile local \
        shift return trap exit break echo exec
    unset POSIXLY_CORRECT
    _hp_reclaiming=
}

# _hp_restore_commands: the command pipe too, after a command that ran hooks (between two
# calls of a batch the worker reads no command).
_hp_restore_commands() {
    command exec 60<"$_hp_ends/$_hp_fd_commands" || builtin exit 70
}
_hp_errexit=off
_hp_trace=off
_hp_exitdump=

# _hp_source PATH ARG...: source PATH inside a function, as DevStack's run_phase does, so a
# top-level `declare X` in the hook stays local to the call. With no ARG the hook sees $# = 0:
# the function's own parameters are empty by then.
_hp_source() {
    # Behind `builtin`, bash parses `local`'s arguments as plain words, split and globbed:
    # every value is quoted.
    builtin local _hp_path="$1"
    builtin shift
    # Checked again at the moment of sourcing (the runner refused it already if it was so
    # when the batch began): a device never ends and a FIFO blocks.
    if [[ ! -f $_hp_path && -e $_hp_path ]]; then
        builtin printf 'hookpipe: %s is not a regular file: not sourced\n' "${_hp_path@Q}" >&2
        builtin return 126
    fi
    if [[ $_hp_trace == on ]]; then builtin set -x; fi
    # shellcheck disable=SC1090 # hooks are data: their paths come from the runner
    builtin source "$_hp_path" "$@"
}

# _hp_call PATH FUNC ARG...: call FUNC with the arguments, sourcing PATH first when FUNC is
# not defined yet (a plugin whose functions arrived through the state is not re-sourced).
_hp_call() {
    builtin local _hp_path="$1" _hp_func="$2"
    builtin shift 2
    if [[ -n $_hp_path ]] && ! declare -F -- "$_hp_func" >/dev/null; then
        _hp_source "$_hp_path" || builtin return
        builtin set +x
    fi
    if ! declare -F -- "$_hp_func" >/dev/null; then
        builtin echo "hookpipe: function $_hp_func is not defined${_hp_path:+ by $_hp_path}" >&2
        builtin return 127
    fi
    if [[ $_hp_trace == on ]]; then builtin set -x; fi
    "$_hp_func" "$@"
}

# _hp_dump FILE: the shell state in three NUL-separated sections, `declare -F` (the function
# names, in the order `declare -f` prints them), `declare -p` (one line per variable) and
# `declare -f`, then a NUL and `end`, so a reader can tell a dump cut short by a KILL. Only
# builtins: a dump costs no fork. A section that fails (a builtin a hook disabled for
# good) leaves no `end`, and the dump's status says so.
_hp_dump() {
    {
        builtin declare -F &&
            builtin printf '\0' &&
            builtin declare -p &&
            builtin printf '\0' &&
            builtin declare -f &&
            builtin printf '\0end\n'
    } >"$1"
}

_hp_own_summary

# When a hook ends the shell (errexit, `exit N`, TERM), leave the state of that moment for
# the runner, which continues in a new worker from it.
# shellcheck disable=SC2317 # run by the EXIT trap
_hp_on_exit() {
    builtin local _hp_status="$?"
    builtin set +e +x
    # A signal in the middle of _hp_reclaim: leave the POSIX mode it entered.
    if [[ -n ${_hp_reclaiming:-} ]]; then unset POSIXLY_CORRECT; fi
    if [[ -n ${_hp_signal:-} ]]; then
        _hp_restore
        builtin printf 'signal\0%s\0' "$_hp_signal" >&61
    fi
    if [[ -n $_hp_exitdump ]]; then
        _hp_dump "$_hp_exitdump" 2>/dev/null
    fi
    builtin return "$_hp_status"
}
builtin trap _hp_on_exit EXIT
# TERM ends the worker through the EXIT trap (so the state is kept) and says so, so the
# runner reports a signal rather than a hook's `exit 143`.
builtin trap '_hp_signal=15; builtin exit 143' TERM

# _hp_read_operands FD: read "PATH [FUNC] N ARG..." of a source or call command (whose op is
# in _hp_op) from FD into _hp_path, _hp_func and _hp_args.
_hp_read_operands() {
    builtin local _hp_fd="$1" _hp_n _hp_arg
    _hp_func=
    _hp_args=()
    IFS= builtin read -r -d '' -u "$_hp_fd" _hp_path || builtin return 1
    if [[ $_hp_op == call ]]; then
        IFS= builtin read -r -d '' -u "$_hp_fd" _hp_func || builtin return 1
    fi
    IFS= builtin read -r -d '' -u "$_hp_fd" _hp_n || builtin return 1
    while ((_hp_n-- > 0)); do
        IFS= builtin read -r -d '' -u "$_hp_fd" _hp_arg || builtin return 1
        _hp_args+=("$_hp_arg")
    done
}

# _hp_invoke: run the source or call command read by _hp_read_operands.
_hp_invoke() {
    if [[ $_hp_op == call ]]; then
        _hp_call "$_hp_path" "$_hp_func" "${_hp_args[@]}"
    else
        _hp_source "$_hp_path" "${_hp_args[@]}"
    fi
}

# _hp_done STATUS: a set-up command is done (the two empty fields are a batch call's times).
_hp_done() {
    _hp_restore
    _hp_restore_commands
    builtin printf 'done\0%s\0\0\0' "$1" >&61
}

# _hp_batch DATA SCRIPT MODE: run a batch of calls without waiting for the runner between
# them. DATA holds the calls' ids, paths, function names and arguments, NUL-separated;
# SCRIPT, written by the runner, sets _hp_call_id (lib/async records which call started a
# job) and has one `_hp_batch_source` or `_hp_batch_call` line per call whose
# arguments are `"${_hp_fields[N]}"` references into DATA, so the data is never code, and
# bash does not parse the fields itself (parsing them in a bash loop cost more than the
# hooks). MODE `stop` ends the batch at the first non-zero status; under errexit a failure
# ends the shell itself.
_hp_batch() {
    builtin local -a _hp_fields
    _hp_batch_mode=$3
    _hp_stop=0
    builtin mapfile -d '' -t _hp_fields <"$1"
    # shellcheck disable=SC1090 # the batch script is written by the runner
    builtin source "$2"
    builtin printf 'batch\0' >&61
}

# _hp_batch_source PATH ARG... and _hp_batch_call PATH FUNC ARG...: one call of a batch.
# After it, the marker goes down every output channel (so the runner can tell whose bytes
# are whose, however it interleaves its reads), then `done STATUS START END` to the events.
# shellcheck disable=SC2317 # called from the runner-written batch script
_hp_batch_source() {
    _hp_t0=$EPOCHREALTIME
    if [[ $_hp_errexit == on ]]; then builtin set -e; fi
    _hp_source "$@"
    # Under errexit a non-zero status has already ended the shell.
    _hp_status=$?
    builtin set +e +x
    _hp_batch_mark
}

# shellcheck disable=SC2317 # called from the runner-written batch script
_hp_batch_call() {
    _hp_t0=$EPOCHREALTIME
    if [[ $_hp_errexit == on ]]; then builtin set -e; fi
    _hp_call "$@"
    _hp_status=$?
    builtin set +e +x
    _hp_batch_mark
}

# _hp_gitdir NAME DIR: DevStack's GITDIR[NAME] for a plugin, unless the state has it.
# shellcheck disable=SC2317 # called from the runner-written batch script
_hp_gitdir() {
    if ! declare -p GITDIR >/dev/null 2>&1; then
        builtin declare -g -A GITDIR
    fi
    if [[ -z ${GITDIR[$1]:-} ]]; then
        GITDIR[$1]=$2
    fi
}

# shellcheck disable=SC2317 # called from the runner-written batch script
_hp_batch_mark() {
    _hp_restore
    builtin printf '\0%s\0' "$_hp_marker" >&63
    builtin printf '\0%s\0' "$_hp_marker" >&64
    builtin printf '\0%s\0' "$_hp_marker" >&6
    if [[ $_hp_trace == on ]]; then
        builtin printf '\0%s\0' "$_hp_marker" >&62
    fi
    builtin printf 'done\0%s\0%s\0%s\0' "$_hp_status" "$_hp_t0" "$EPOCHREALTIME" >&61
    if ((_hp_status != 0)) && [[ $_hp_batch_mode == stop ]]; then
        _hp_stop=1
    fi
}

# The loop and the line after it are one command: a fatal error inside the loop (bash ends
# the whole top-level command when a hook made one of the worker's variables readonly and
# the worker assigns it) skips _hp_clean_end, and the worker says it lost its state.
{
while IFS= builtin read -r -d '' -u 60 _hp_op; do
    case $_hp_op in
        source | call)
            _hp_read_operands 60 || builtin break
            if [[ $_hp_errexit == on ]]; then builtin set -e; fi
            _hp_invoke 1>&63 2>&64 60<&-
            _hp_status=$?
            builtin set +e +x
            # A prelude (lib/functions, DevStack's functions) may have defined its own.
            _hp_own_summary
            _hp_done "$_hp_status"
            ;;
        batch)
            IFS= builtin read -r -d '' -u 60 _hp_path || builtin break
            IFS= builtin read -r -d '' -u 60 _hp_script || builtin break
            IFS= builtin read -r -d '' -u 60 _hp_mode || builtin break
            # A hook that closes or redirects its stdout spoils the rest of its batch only.
            _hp_batch "$_hp_path" "$_hp_script" "$_hp_mode" 1>&63 2>&64 60<&-
            _hp_restore_commands
            ;;
        check)
            IFS= builtin read -r -d '' -u 60 _hp_service || builtin break
            if is_service_enabled "$_hp_service" 60<&-; then _hp_done 0; else _hp_done 1; fi
            ;;
        load)
            IFS= builtin read -r -d '' -u 60 _hp_path || builtin break
            # shellcheck disable=SC1090 # the state script is written by the runner
            builtin source "$_hp_path" 60<&-
            _hp_status=$?
            _hp_own_summary
            _hp_done "$_hp_status"
            ;;
        dump)
            IFS= builtin read -r -d '' -u 60 _hp_path || builtin break
            _hp_dump "$_hp_path"
            _hp_done "$?"
            ;;
        errexit) IFS= builtin read -r -d '' -u 60 _hp_errexit || builtin break; _hp_done 0 ;;
        trace) IFS= builtin read -r -d '' -u 60 _hp_trace || builtin break; _hp_done 0 ;;
        exitdump) IFS= builtin read -r -d '' -u 60 _hp_exitdump || builtin break; _hp_done 0 ;;
        marker) IFS= builtin read -r -d '' -u 60 _hp_marker || builtin break; _hp_done 0 ;;
        exit) builtin break ;;
        *) _hp_done 2 ;;
    esac
done
_hp_clean_end=yes
}
_hp_exitdump=
if [[ -z ${_hp_clean_end:-} ]]; then
    _hp_restore
    builtin printf 'hookpipe: the worker lost its own state (a hook made one of its _hp_ variables readonly or broke a builtin it needs)\n' >&64
    builtin exit 70
fi
builtin exit 0
