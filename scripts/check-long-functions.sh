#!/bin/sh
# Lists the functions in host/ longer than a limit (default 150 lines, from
# the line that starts the definition to its closing brace), one line each:
#   FILE:LINE: FUNC is N lines (max 150)
# and exits 1 if there is any; 0 when none.  The code is clang-formatted: a
# definition starts at column 0 and its body ends with "}" at column 0.
# Allowed (a parser's opcode switch, one case per opcode): the FILE FUNC
# pairs of scripts/long-functions-allow.txt.
# usage: scripts/check-long-functions.sh [MAX [DIR...]]   (default: 150 host)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
max=${1:-150}
[ $# -gt 0 ] && shift
cd "$root"
[ $# -gt 0 ] || set -- host
allow="$here/long-functions-allow.txt"
[ -f "$allow" ] || allow=/dev/null
find "$@" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' \) | LC_ALL=C sort |
while IFS= read -r f; do
    awk -v max="$max" -v allowfile="$allow" '
    BEGIN {
        while ((getline l < allowfile) > 0) {
            sub(/#.*/, "", l)
            if (split(l, a, /[ \t]+/) >= 2) ok[a[1] " " a[2]] = 1
        }
    }
    # a definition: a line at column 0 that is not a directive, a comment
    # or a closing brace; the signature runs to the line that ends with "{"
    !infn && !insig && /^[A-Za-z_]/ && !/^(typedef|struct|union|enum)[ \t]/ && !/;[ \t]*$/ {
        insig = 1; start = FNR; sig = ""
    }
    insig {
        sig = sig " " $0
        if ($0 ~ /\{[ \t]*$/) {
            insig = 0
            if (sig ~ /\(/ && sig !~ /=/) {
                s = sig; sub(/\(.*/, "", s); n = split(s, w, /[ \t*]+/); name = w[n]
                infn = 1
            }
        } else if ($0 ~ /;[ \t]*$/ || $0 ~ /^}/) insig = 0
        next
    }
    infn && /^}/ {
        infn = 0; len = FNR - start + 1
        if (len > max && !((FILENAME " " name) in ok))
            printf "%s:%d: %s is %d lines (max %d)\n", FILENAME, start, name, len, max
    }' "$f"
done | awk '{ print } END { exit NR > 0 }'
