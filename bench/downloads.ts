// node dist/bench/downloads.js [--keys 10000] [--adds 2000000]
// What counting a download costs the redirect path: DownloadStats.add() for a file and a country, in
// nanoseconds, and what it allocates. The keys are warmed first (their cells exist, as for any file
// downloaded before in this hour); the allocation is read from the heap's growth over a run short
// enough that no scavenge runs in it (young space is several MiB; the run is checked to stay under it).
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { performance } from 'node:perf_hooks';
import { DownloadStats } from '../src/counters/downloads.js';

const { values: args } = parseArgs({ options: { keys: { type: 'string', default: '10000' }, adds: { type: 'string', default: '2000000' } } });
const KEYS = Number(args.keys);
const ADDS = Number(args.adds);
const paths = Array.from({ length: KEYS }, (_, i) => `pool/main/p/pkg${i}/pkg${i}_1.0_amd64.deb`);
const countries = ['DE', 'US', 'GB', 'FR', 'JP', 'BR', 'AU', 'ZA', 'IN', undefined];
const now = Date.now();
const stats = new DownloadStats(() => now);

for (let i = 0; i < KEYS * 3; i++) stats.add(paths[i % KEYS] as string, countries[i % countries.length], 1000, now);

const t0 = performance.now();
for (let i = 0; i < ADDS; i++) stats.add(paths[i % KEYS] as string, countries[i % countries.length], 1000, now);
const ns = ((performance.now() - t0) * 1e6) / ADDS;

// Allocation: 100,000 adds between two heap readings.
const n = 100_000;
const before = getHeapStatistics().used_heap_size;
for (let i = 0; i < n; i++) stats.add(paths[i % KEYS] as string, countries[i % countries.length], 1000, now);
const after = getHeapStatistics().used_heap_size;
const bytesPerAdd = Math.max(0, after - before) / n;
const drained = stats.files.drain().length + stats.countries.drain().length;
console.log(`DownloadStats.add: ${ns.toFixed(1)} ns per download (${KEYS} files, ${countries.length} countries), `
  + `${bytesPerAdd.toFixed(2)} bytes allocated per download over ${n.toLocaleString()} (heap ${before} → ${after}); ${drained} rows to flush`);
