#!/usr/bin/env bash
# Set up the project's virtual environment (if needed) and run the main job on demo data:
# capture a history of the built-in demo cluster, then build, check and write the FOCUS file of
# the last closed month through the Dagster job `monthly_focus`. No cluster is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .

export DAGSTER_HOME=${DAGSTER_HOME:-$PWD/.dagster_home}
mkdir -p "$DAGSTER_HOME"
captures=${INFERCOST_CAPTURES:-.infercost/captures}
output=${INFERCOST_OUTPUT:-.infercost/focus}
export INFERCOST_CAPTURES=$captures INFERCOST_OUTPUT=$output

# The last closed month, and the two before it as history.
read -r month first < <(.venv/bin/python - <<'PY'
from datetime import UTC, datetime
now = datetime.now(UTC)
months = [(now.year * 12 + now.month - 1 - back) for back in (1, 3)]
print(*(f"{m // 12:04d}-{m % 12 + 1:02d}" for m in months))
PY
)

.venv/bin/infercost captures fill-demo --captures "$captures" --from "$first" --to "$month"
.venv/bin/dagster job execute -m infercost_focus.definitions -j monthly_focus \
    --tags "{\"dagster/partition\": \"$month\"}"

file="$output/focus_monthly/$month.csv"
echo
echo "FOCUS file of $month (demo data): $file ($(($(wc -l < "$file") - 1)) rows)"
echo "the same month as conformant FOCUS 1.2: $output/focus_1_2_monthly/$month.csv"
echo "spend by namespace:"
awk -F, 'NR>1 {by_ns[$29]+=$1} END {for (n in by_ns) printf "  %-12s %12.2f USD\n", n, by_ns[n]}' "$file"
