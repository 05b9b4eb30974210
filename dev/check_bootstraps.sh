#!/usr/bin/env bash
# The bootstraps a `sam build` made, as Lambda gets them: per function, the machine, the
# newest glibc symbol version it needs (provided.al2023 has glibc 2.34: a bootstrap that
# needs more does not start there) and the size of the bootstrap zipped alone, deflated
# as `sam deploy` zips it (at most MAX_ZIP_BYTES). Prints a table; fails if one is off.
# Usage: dev/check_bootstraps.sh <sam build dir> <aarch64|x86-64>
set -euo pipefail
dir=${1:?the sam build directory}
machine=${2:?aarch64 or x86-64}
max_glibc=2.34
max_zip=${MAX_ZIP_BYTES:-8000000}
case $machine in
aarch64) objdump=aarch64-linux-gnu-objdump format=elf64-littleaarch64 ;;
x86-64) objdump=objdump format=elf64-x86-64 ;;
*) echo "unknown machine $machine" >&2; exit 2 ;;
esac
status=0
printf '%-16s %-20s %12s %12s %s\n' function format bytes zipped glibc
for function in PredictFunction BatchFunction; do
	bootstrap=$dir/$function/bootstrap
	found=$($objdump -f "$bootstrap" | sed -n 's/.*file format \(.*\)/\1/p')
	glibc=$($objdump -T "$bootstrap" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
	glibc=${glibc#GLIBC_}
	bytes=$(stat -c %s "$bootstrap")
	zipped=$(python3 -c '
import io, sys, zipfile
out = io.BytesIO()
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[1], "bootstrap")
print(len(out.getvalue()))' "$bootstrap")
	printf '%-16s %-20s %12d %12d %s\n' "$function" "$found" "$bytes" "$zipped" "$glibc"
	if [ "$found" != "$format" ]; then
		echo "$bootstrap: $found, not $format" >&2; status=1
	fi
	if [ "$(printf '%s\n' "$glibc" "$max_glibc" | sort -V | tail -n 1)" != "$max_glibc" ]; then
		echo "$bootstrap needs glibc $glibc, newer than provided.al2023's $max_glibc" >&2; status=1
	fi
	if [ "$zipped" -gt "$max_zip" ]; then
		echo "$bootstrap zipped is $zipped bytes, over $max_zip" >&2; status=1
	fi
done
exit $status
