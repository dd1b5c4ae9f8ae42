# SPDX-License-Identifier: MIT
# Latency-vs-size and throughput-vs-size PNGs from `shmq bench --csv=FILE`.
#
#   shmq bench --csv=bench.csv
#   gnuplot -e "csv='bench.csv'; outdir='docs'" tools/bench/plot.gnuplot
#
# Writes outdir/bench-latency.png (p50 round trip, log-log) and
# outdir/bench-throughput.png (one-way MB/s, log-log), one line per
# transport and mode, single-client cases only. Needs gnuplot 5 (Debian:
# gnuplot-nox) and awk.
if (!exists("csv")) csv = "bench.csv"
if (!exists("outdir")) outdir = "."

# The series that have a value in CSV column `col`, as "transport_mode"
# words (single-client rows that ran), in order of appearance.
series(col) = system(sprintf("awk -F, 'NR > 1 && $5 == 1 && $6 == \"ok\" && $%d != \"\" " . \
	"{ s = $1 \"_\" $2; if (!(s in seen)) { seen[s] = 1; printf \"%%s \", s } }' %s", col, csv))
# One series' rows: size and the column, sorted by size.
rows(s, col) = sprintf("< awk -F, -v s='%s' 'NR > 1 && ($1 \"_\" $2) == s && $5 == 1 && " . \
	"$6 == \"ok\" && $%d != \"\" { print $4, $%d }' %s | sort -n", s, col, col, csv)
label(s) = system("echo '" . s . "' | tr '_' ' '")
width(s) = strstrt(s, "shmq_") == 1 ? 3 : 1.5
dash(s) = strstrt(s, "ref-") == 1 ? 2 : 1

set terminal pngcairo size 1400,900 font "sans,11" noenhanced
set key outside right top
set logscale xy
set grid xtics ytics mytics lc rgb "#dddddd"
set xtics ("8 B" 8, "64 B" 64, "512 B" 512, "4 KiB" 4096, "64 KiB" 65536, "1 MiB" 1048576)
set xlabel "message size"

lat = series(8)
set output outdir . "/bench-latency.png"
set title "Round-trip latency, p50 (lower is better)"
set ylabel "microseconds"
plot for [i = 1:words(lat)] rows(word(lat, i), 8) using 1:($2 / 1000.0) \
	with linespoints lw width(word(lat, i)) dt dash(word(lat, i)) pt (i % 14 + 1) \
	title label(word(lat, i))

tput = series(16)
set output outdir . "/bench-throughput.png"
set title "One-way streaming throughput (higher is better)"
set ylabel "MB/s (10^6 bytes)"
plot for [i = 1:words(tput)] rows(word(tput, i), 16) using 1:2 \
	with linespoints lw width(word(tput, i)) dt dash(word(tput, i)) pt (i % 14 + 1) \
	title label(word(tput, i))
