#!/usr/bin/env bash
# setup.sh - from a fresh clone to a running job: installs what is missing, builds
# spate (Release, in build/) and runs the telemetry example on the bundled data.
# Set BUILD_ROOT to put build/ and out/ somewhere other than the repository.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_missing "${SPATE_PACKAGES[@]}"

log "building spate in $BUILD_ROOT/build"
# Warnings do not stop a user's build here (another compiler version may warn more);
# scripts/test.sh builds with -Werror.
build "$BUILD_ROOT/build" -DCMAKE_BUILD_TYPE=Release -DSPATE_WERROR=OFF

output=$BUILD_ROOT/out/telemetry
log "running: spate example telemetry --once"
"$BUILD_ROOT/build/spate" example telemetry --once \
    --input "$SPATE_ROOT/examples/data/telemetry" --output "$output"

cat <<MSG

The summaries went to $output/ (one summary-TIME.csv per batch).
The JSON line on stderr above is the malformed row of the sample data, dead-lettered.
Next: $BUILD_ROOT/build/spate help, or bash scripts/test.sh to run every test.
MSG
