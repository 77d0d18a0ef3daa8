# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_abg_global_optspecs
    string join \n pair= h/help V/version
end

function __fish_abg_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_abg_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_abg_using_subcommand
    set -l cmd (__fish_abg_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c abg -n "__fish_abg_needs_command" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abg -n "__fish_abg_needs_command" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_needs_command" -f -a "claude" -d 'Run Claude Code as this pair\'s Claude peer (starts the pair\'s daemon)'
complete -c abg -n "__fish_abg_needs_command" -f -a "codex" -d 'Run Codex as this pair\'s Codex peer (starts the pair\'s daemon)'
complete -c abg -n "__fish_abg_needs_command" -f -a "opencode" -d 'Run OpenCode as this pair\'s OpenCode peer (starts the pair\'s daemon)'
complete -c abg -n "__fish_abg_needs_command" -f -a "init" -d 'Tell both agents they are paired: write the contract into AGENTS.md and CLAUDE.md'
complete -c abg -n "__fish_abg_needs_command" -f -a "doctor" -d 'Check the agent CLIs, Claude channels, the pair\'s ports, files, daemon and store'
complete -c abg -n "__fish_abg_needs_command" -f -a "resume" -d 'Print the commands that resume both agents of this pair, or run one'
complete -c abg -n "__fish_abg_needs_command" -f -a "pair" -d 'Manage pairs: list them (default), remove one, or prune dead ones'
complete -c abg -n "__fish_abg_needs_command" -f -a "status" -d 'Show this pair\'s daemon health, ports, pids, state dir and versions'
complete -c abg -n "__fish_abg_needs_command" -f -a "logs" -d 'Show the pair daemon\'s log'
complete -c abg -n "__fish_abg_needs_command" -f -a "send" -d 'Send a message to an agent of the pair (or all of them) as the human'
complete -c abg -n "__fish_abg_needs_command" -f -a "approvals" -d 'List the agents\' approval requests waiting for an answer'
complete -c abg -n "__fish_abg_needs_command" -f -a "approve" -d 'Allow an agent\'s pending approval request'
complete -c abg -n "__fish_abg_needs_command" -f -a "deny" -d 'Refuse an agent\'s pending approval request'
complete -c abg -n "__fish_abg_needs_command" -f -a "resume-relay" -d 'Resume the automatic relay between the agents after the loop governor paused it'
complete -c abg -n "__fish_abg_needs_command" -f -a "log" -d 'Show the pair\'s conversation transcript'
complete -c abg -n "__fish_abg_needs_command" -f -a "ui" -d 'Open the pair\'s web UI: print a one-time login link'
complete -c abg -n "__fish_abg_needs_command" -f -a "export" -d 'Export the pair\'s conversation transcript'
complete -c abg -n "__fish_abg_needs_command" -f -a "kill" -d 'Stop this pair\'s daemon and its children; no auto-respawn until the next `abg claude|codex`'
complete -c abg -n "__fish_abg_needs_command" -f -a "budget" -d 'Show both agents\' 5-hour and weekly quota windows, or pause/resume one'
complete -c abg -n "__fish_abg_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh or fish)'
complete -c abg -n "__fish_abg_needs_command" -f -a "daemon" -d 'Run the pair\'s daemon in the foreground (started by abg itself)'
complete -c abg -n "__fish_abg_needs_command" -f -a "mcp" -d 'Serve Claude Code as its abg channel (started by Claude, not by hand)'
complete -c abg -n "__fish_abg_needs_command" -f -a "hook" -d 'Report a Claude Code hook event to the pair\'s daemon (run by Claude)'
complete -c abg -n "__fish_abg_needs_command" -f -a "statusline" -d 'Record Claude\'s quota windows and print a status line (run by Claude)'
complete -c abg -n "__fish_abg_needs_command" -f -a "appserver-guard" -d 'Run and guard the pair\'s Codex app-server (started by the daemon)'
complete -c abg -n "__fish_abg_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c abg -n "__fish_abg_using_subcommand claude" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand claude" -l safe -d 'Keep Claude\'s normal permission prompts (no --dangerously-skip-permissions)'
complete -c abg -n "__fish_abg_using_subcommand claude" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand claude" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand codex" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand codex" -l safe -d 'Keep Codex\'s normal approval prompts (no --yolo)'
complete -c abg -n "__fish_abg_using_subcommand codex" -l new -d 'Start a new Codex thread instead of resuming the pair\'s current one'
complete -c abg -n "__fish_abg_using_subcommand codex" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand codex" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand opencode" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand opencode" -l safe -d 'Keep OpenCode\'s own permission prompts (no allow-all config)'
complete -c abg -n "__fish_abg_using_subcommand opencode" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand opencode" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand init" -l plugin-dir -d 'The plugin marketplace directory for --plugin (default: the one shipped with abg)' -r -F
complete -c abg -n "__fish_abg_using_subcommand init" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand init" -l dry-run -d 'Print the changes as a unified diff and write nothing'
complete -c abg -n "__fish_abg_using_subcommand init" -l plugin -d 'Also register abg\'s Claude Code plugin marketplace and install the plugin (`claude plugin marketplace add <dir>`, `claude plugin install abg@abg`)'
complete -c abg -n "__fish_abg_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abg -n "__fish_abg_using_subcommand init" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand doctor" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand doctor" -l json -d 'Print JSON: {schema_version: 1, abg_version, project, pair, ok, counts: {ok, warn, fail}, checks: [{id, status: ok|warn|fail, summary, fix}]}'
complete -c abg -n "__fish_abg_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abg -n "__fish_abg_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand resume" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand resume" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand resume" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand pair; and not __fish_seen_subcommand_from list ls rm prune help" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand pair; and not __fish_seen_subcommand_from list ls rm prune help" -l all -d 'List the pairs of every project, not only this one'
complete -c abg -n "__fish_abg_using_subcommand pair; and not __fish_seen_subcommand_from list ls rm prune help" -l json -d 'Print JSON instead of a table'
complete -c abg -n "__fish_abg_using_subcommand pair; and not __fish_seen_subcommand_from list ls rm prune help" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand pair; and not __fish_seen_subcommand_from list ls rm prune help" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand pair; and not __fish_seen_subcommand_from list ls rm prune help" -f -a "list" -d 'List pairs with slot, ports, daemon state and uptime'
complete -c abg -n "__fish_abg_using_subcommand pair; and not __fish_seen_subcommand_from list ls rm prune help" -f -a "ls" -d 'List pairs with slot, ports, daemon state and uptime'
complete -c abg -n "__fish_abg_using_subcommand pair; and not __fish_seen_subcommand_from list ls rm prune help" -f -a "rm" -d 'Stop a pair\'s daemon and remove the pair and its state'
complete -c abg -n "__fish_abg_using_subcommand pair; and not __fish_seen_subcommand_from list ls rm prune help" -f -a "prune" -d 'Remove pairs whose project directory is gone (stopping their daemon), and stop Codex app-servers left without a daemon and without a client'
complete -c abg -n "__fish_abg_using_subcommand pair; and not __fish_seen_subcommand_from list ls rm prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from list" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from list" -l all -d 'List the pairs of every project, not only this one'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from list" -l json -d 'Print JSON instead of a table'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from ls" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from ls" -l all -d 'List the pairs of every project, not only this one'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from ls" -l json -d 'Print JSON instead of a table'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from rm" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from prune" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from prune" -l dry-run -d 'Show what would be removed without removing it'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from prune" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from help" -f -a "list" -d 'List pairs with slot, ports, daemon state and uptime'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Stop a pair\'s daemon and remove the pair and its state'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Remove pairs whose project directory is gone (stopping their daemon), and stop Codex app-servers left without a daemon and without a client'
complete -c abg -n "__fish_abg_using_subcommand pair; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c abg -n "__fish_abg_using_subcommand status" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand status" -l json -d 'Print JSON instead of text'
complete -c abg -n "__fish_abg_using_subcommand status" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand status" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand logs" -s n -l lines -d 'How many of the last lines to show first' -r
complete -c abg -n "__fish_abg_using_subcommand logs" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand logs" -s f -l follow -d 'Keep printing new lines as they are written'
complete -c abg -n "__fish_abg_using_subcommand logs" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand logs" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand send" -l to -d 'Who receives it: a peer of the pair (claude, codex, …) or `all` (`both` is the older spelling of `all`)' -r
complete -c abg -n "__fish_abg_using_subcommand send" -l on-busy -d 'What a turn-running agent (Codex) does with it while a turn runs (queue, steer, interrupt)' -r -f -a "queue\t''
steer\t''
interrupt\t''"
complete -c abg -n "__fish_abg_using_subcommand send" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand send" -l json -d 'Print the results as JSON'
complete -c abg -n "__fish_abg_using_subcommand send" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand send" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand approvals" -l limit -d 'Most requests listed' -r
complete -c abg -n "__fish_abg_using_subcommand approvals" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand approvals" -l all -d 'Also list answered, expired and abandoned requests'
complete -c abg -n "__fish_abg_using_subcommand approvals" -l json -d 'Print JSON instead of text (with `-f`, one object per line)'
complete -c abg -n "__fish_abg_using_subcommand approvals" -s f -l follow -d 'Keep printing new requests and every change of state (answered here, in the web UI or in the agent\'s terminal) until interrupted'
complete -c abg -n "__fish_abg_using_subcommand approvals" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand approvals" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand approve" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand approve" -l for-session -d 'Allow the like for the rest of the agent\'s session (when it offers that)'
complete -c abg -n "__fish_abg_using_subcommand approve" -l json -d 'Print the answered request as JSON'
complete -c abg -n "__fish_abg_using_subcommand approve" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand approve" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand deny" -l reason -d 'Why, for agents that pass a reason on' -r
complete -c abg -n "__fish_abg_using_subcommand deny" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand deny" -l json -d 'Print the answered request as JSON'
complete -c abg -n "__fish_abg_using_subcommand deny" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand deny" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand resume-relay" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand resume-relay" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand resume-relay" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand log" -s n -l lines -d 'How many of the latest messages to show first' -r
complete -c abg -n "__fish_abg_using_subcommand log" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand log" -s f -l follow -d 'Keep printing new messages as they arrive'
complete -c abg -n "__fish_abg_using_subcommand log" -l json -d 'One JSON object per message (JSONL)'
complete -c abg -n "__fish_abg_using_subcommand log" -l raw -d 'Write message text byte for byte even to a terminal. By default a terminal shows control characters from agents as `^[`, `^G`, `<U+009B>` instead of running them; a pipe or file always gets the raw bytes'
complete -c abg -n "__fish_abg_using_subcommand log" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand log" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand ui" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand ui" -l open -d 'Also open the link in the default browser'
complete -c abg -n "__fish_abg_using_subcommand ui" -l json -d 'Print the link and its expiry as JSON'
complete -c abg -n "__fish_abg_using_subcommand ui" -l revoke-all -d 'Log every browser out: revoke all web UI sessions and unused login links (prints no new link)'
complete -c abg -n "__fish_abg_using_subcommand ui" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand ui" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand export" -l format -d 'Output format' -r -f -a "md\t''
jsonl\t''"
complete -c abg -n "__fish_abg_using_subcommand export" -s o -l output -d 'Write to FILE instead of stdout. The file gets the messages exactly as stored, control characters included (view it with a pager that shows them, e.g. `less`, not `cat`)' -r -F
complete -c abg -n "__fish_abg_using_subcommand export" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand export" -l raw -d 'Write message text byte for byte even to a terminal. By default a terminal shows control characters from agents as `^[`, `^G`, `<U+009B>` instead of running them; a pipe or file always gets the raw bytes'
complete -c abg -n "__fish_abg_using_subcommand export" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand export" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand kill" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand kill" -l all -d 'Stop the daemons (and orphaned Codex app-servers and OpenCode servers) of every pair of every project'
complete -c abg -n "__fish_abg_using_subcommand kill" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand kill" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand budget; and not __fish_seen_subcommand_from pause resume help" -l interval -d 'Seconds between refreshes with --watch' -r
complete -c abg -n "__fish_abg_using_subcommand budget; and not __fish_seen_subcommand_from pause resume help" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand budget; and not __fish_seen_subcommand_from pause resume help" -l json -d 'Print the JSON report (schema abg.budget/1) instead of text'
complete -c abg -n "__fish_abg_using_subcommand budget; and not __fish_seen_subcommand_from pause resume help" -l watch -d 'Refresh every few seconds until interrupted'
complete -c abg -n "__fish_abg_using_subcommand budget; and not __fish_seen_subcommand_from pause resume help" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand budget; and not __fish_seen_subcommand_from pause resume help" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand budget; and not __fish_seen_subcommand_from pause resume help" -f -a "pause" -d 'Pause relay to SIDE by hand: its messages are held until resumed'
complete -c abg -n "__fish_abg_using_subcommand budget; and not __fish_seen_subcommand_from pause resume help" -f -a "resume" -d 'Resume SIDE: release held messages (and send the resume prompt if a checkpoint was asked for)'
complete -c abg -n "__fish_abg_using_subcommand budget; and not __fish_seen_subcommand_from pause resume help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c abg -n "__fish_abg_using_subcommand budget; and __fish_seen_subcommand_from pause" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand budget; and __fish_seen_subcommand_from pause" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand budget; and __fish_seen_subcommand_from pause" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand budget; and __fish_seen_subcommand_from resume" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand budget; and __fish_seen_subcommand_from resume" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand budget; and __fish_seen_subcommand_from resume" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand budget; and __fish_seen_subcommand_from help" -f -a "pause" -d 'Pause relay to SIDE by hand: its messages are held until resumed'
complete -c abg -n "__fish_abg_using_subcommand budget; and __fish_seen_subcommand_from help" -f -a "resume" -d 'Resume SIDE: release held messages (and send the resume prompt if a checkpoint was asked for)'
complete -c abg -n "__fish_abg_using_subcommand budget; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c abg -n "__fish_abg_using_subcommand completions" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand completions" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand completions" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand daemon" -l root -d 'Project root of the pair' -r -F
complete -c abg -n "__fish_abg_using_subcommand daemon" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand daemon" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand daemon" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand mcp" -l project -d 'Project directory whose pair to serve (the plugin passes ${CLAUDE_PROJECT_DIR}); default: the ABG_PROJECT_ROOT that `abg claude` sets, else stay dormant' -r -F
complete -c abg -n "__fish_abg_using_subcommand mcp" -l via -d 'Which way started this copy (`abg claude`\'s config, or the plugin); a copy whose way `abg claude` did not choose stays idle' -r -f -a "generated\t'abg\'s own `--mcp-config` and `--settings` hooks'
plugin\t'The installed `abg@abg` Claude Code plugin'"
complete -c abg -n "__fish_abg_using_subcommand mcp" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand mcp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abg -n "__fish_abg_using_subcommand mcp" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand hook" -l project -d 'Project directory whose pair to report to (default: ABG_PROJECT_ROOT)' -r -F
complete -c abg -n "__fish_abg_using_subcommand hook" -l via -d 'Which way installed this hook (`abg claude`\'s settings, or the plugin)' -r -f -a "generated\t'abg\'s own `--mcp-config` and `--settings` hooks'
plugin\t'The installed `abg@abg` Claude Code plugin'"
complete -c abg -n "__fish_abg_using_subcommand hook" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand hook" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c abg -n "__fish_abg_using_subcommand hook" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand statusline" -l project -d 'Project directory whose pair to report to (default: ABG_PROJECT_ROOT, then the statusline JSON\'s project dir)' -r -F
complete -c abg -n "__fish_abg_using_subcommand statusline" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand statusline" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand statusline" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand appserver-guard" -l port -d 'The app-server\'s port (clients are counted on it)' -r
complete -c abg -n "__fish_abg_using_subcommand appserver-guard" -l pair-dir -d 'The pair\'s state dir' -r -F
complete -c abg -n "__fish_abg_using_subcommand appserver-guard" -l grace-secs -d 'Seconds with no daemon and no client before the app-server is stopped' -r
complete -c abg -n "__fish_abg_using_subcommand appserver-guard" -l pair -d 'Target the pair NAME of this project (default: main)' -r
complete -c abg -n "__fish_abg_using_subcommand appserver-guard" -s h -l help -d 'Print help'
complete -c abg -n "__fish_abg_using_subcommand appserver-guard" -s V -l version -d 'Print version'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "claude" -d 'Run Claude Code as this pair\'s Claude peer (starts the pair\'s daemon)'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "codex" -d 'Run Codex as this pair\'s Codex peer (starts the pair\'s daemon)'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "opencode" -d 'Run OpenCode as this pair\'s OpenCode peer (starts the pair\'s daemon)'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "init" -d 'Tell both agents they are paired: write the contract into AGENTS.md and CLAUDE.md'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "doctor" -d 'Check the agent CLIs, Claude channels, the pair\'s ports, files, daemon and store'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "resume" -d 'Print the commands that resume both agents of this pair, or run one'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "pair" -d 'Manage pairs: list them (default), remove one, or prune dead ones'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "status" -d 'Show this pair\'s daemon health, ports, pids, state dir and versions'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "logs" -d 'Show the pair daemon\'s log'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "send" -d 'Send a message to an agent of the pair (or all of them) as the human'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "approvals" -d 'List the agents\' approval requests waiting for an answer'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "approve" -d 'Allow an agent\'s pending approval request'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "deny" -d 'Refuse an agent\'s pending approval request'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "resume-relay" -d 'Resume the automatic relay between the agents after the loop governor paused it'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "log" -d 'Show the pair\'s conversation transcript'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "ui" -d 'Open the pair\'s web UI: print a one-time login link'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "export" -d 'Export the pair\'s conversation transcript'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "kill" -d 'Stop this pair\'s daemon and its children; no auto-respawn until the next `abg claude|codex`'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "budget" -d 'Show both agents\' 5-hour and weekly quota windows, or pause/resume one'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "completions" -d 'Print a shell completion script (bash, zsh or fish)'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "daemon" -d 'Run the pair\'s daemon in the foreground (started by abg itself)'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "mcp" -d 'Serve Claude Code as its abg channel (started by Claude, not by hand)'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "hook" -d 'Report a Claude Code hook event to the pair\'s daemon (run by Claude)'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "statusline" -d 'Record Claude\'s quota windows and print a status line (run by Claude)'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "appserver-guard" -d 'Run and guard the pair\'s Codex app-server (started by the daemon)'
complete -c abg -n "__fish_abg_using_subcommand help; and not __fish_seen_subcommand_from claude codex opencode init doctor resume pair status logs send approvals approve deny resume-relay log ui export kill budget completions daemon mcp hook statusline appserver-guard help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c abg -n "__fish_abg_using_subcommand help; and __fish_seen_subcommand_from pair" -f -a "list" -d 'List pairs with slot, ports, daemon state and uptime'
complete -c abg -n "__fish_abg_using_subcommand help; and __fish_seen_subcommand_from pair" -f -a "rm" -d 'Stop a pair\'s daemon and remove the pair and its state'
complete -c abg -n "__fish_abg_using_subcommand help; and __fish_seen_subcommand_from pair" -f -a "prune" -d 'Remove pairs whose project directory is gone (stopping their daemon), and stop Codex app-servers left without a daemon and without a client'
complete -c abg -n "__fish_abg_using_subcommand help; and __fish_seen_subcommand_from budget" -f -a "pause" -d 'Pause relay to SIDE by hand: its messages are held until resumed'
complete -c abg -n "__fish_abg_using_subcommand help; and __fish_seen_subcommand_from budget" -f -a "resume" -d 'Resume SIDE: release held messages (and send the resume prompt if a checkpoint was asked for)'
