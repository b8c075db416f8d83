#!/usr/bin/env bash
# Optional: a class-data cache for target/flagagg.jar, so the JVM loads and links the classes it needs from
# one mapped file instead of the jar (docs/benchmarks.md, "Cold start"). One short training run (a small
# embedded load test) writes it, with the JDK on the PATH or $JAVA:
#   JDK 17-24: AppCDS, -XX:ArchiveClassesAtExit, writes target/flagagg.jsa; run with -XX:SharedArchiveFile=target/flagagg.jsa
#   JDK 25+:   the AOT cache (JEPs 483, 514, 515: classes loaded and linked, and method profiles), writes
#              target/flagagg.aot; run with -XX:AOTCache=target/flagagg.aot
# The cache belongs to that jar and that JDK: after a rebuild, run this again (a stale cache is refused with
# a warning and the JVM starts without it).
# Run from the repository root after `mvn -B -q package -DskipTests`:  bash deploy/start-cache.sh
set -euo pipefail
java="${JAVA:-java}"
jar="target/flagagg.jar"
feature=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
if [ "$feature" -ge 25 ]; then
  cache="target/flagagg.aot" write="-XX:AOTCacheOutput=$cache" use="-XX:AOTCache=$cache" quiet="-Xlog:aot=off"
else
  cache="target/flagagg.jsa" write="-XX:ArchiveClassesAtExit=$cache" use="-XX:SharedArchiveFile=$cache"
  quiet="-Xlog:cds=off"
fi
spill="$(mktemp -d)"
trap 'rm -rf "$spill"' EXIT
"$java" --add-modules jdk.incubator.vector "$write" "$quiet" -jar "$jar" loadtest \
  --workers 4 --dim 300000 --rounds 3 --warmup 1 --rule flag --spill-dir "$spill" > /dev/null 2>&1
echo "wrote $cache; start the JVM with $use, e.g."
echo "  $java --add-modules jdk.incubator.vector $use -jar $jar aggregate ..."
