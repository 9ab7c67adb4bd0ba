// Preloaded into a server by the bench (`node --import dist/bench/lib/alloc-probe.js …`) to count the
// bytes it allocates on the JS heap between two SIGUSR2: the heap's growth plus everything each garbage
// collection in between freed (v8.GCProfiler). Written as JSON to $MIRRORGATE_ALLOC_OUT at the second
// signal. With $MIRRORGATE_ALLOC_SITES set, the V8 sampling heap profiler runs too (collected objects
// kept in the samples) and the top allocation sites are written to that file; with $MIRRORGATE_CPU_PROFILE
// set, the CPU profiler runs between the two signals and its .cpuprofile is written there (bench:profile:
// the window after a warm-up, not the start). No server code knows of it.
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampleNode[];
}

const out = process.env.MIRRORGATE_ALLOC_OUT;
const sitesOut = process.env.MIRRORGATE_ALLOC_SITES;
const cpuOut = process.env.MIRRORGATE_CPU_PROFILE;
if (cpuOut !== undefined) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.start'));
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, result) => {
      if (err === null) writeFileSync(cpuOut, JSON.stringify((result as { profile: unknown }).profile));
    });
  });
} else if (out !== undefined) {
  let profiler: GCProfiler | undefined;
  let startUsed = 0;
  let delay: IntervalHistogram | undefined;
  const session = sitesOut === undefined ? undefined : new Session();
  session?.connect();
  process.on('SIGUSR2', () => {
    if (profiler === undefined) {
      profiler = new GCProfiler();
      startUsed = getHeapStatistics().used_heap_size;
      profiler.start();
      delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      session?.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as object);
      return;
    }
    const result = profiler.stop();
    profiler = undefined;
    let freed = 0;
    let pauseUs = 0;
    for (const gc of result.statistics) {
      freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
      pauseUs += gc.cost;
    }
    const allocatedBytes = getHeapStatistics().used_heap_size - startUsed + freed;
    delay?.disable();
    // The event loop's delay: how long a timer waited past its time, i.e. the longest stalls of the loop.
    const loop = delay === undefined ? undefined : { p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6, meanMs: delay.mean / 1e6 };
    let longestGcMs = 0;
    for (const gc of result.statistics) longestGcMs = Math.max(longestGcMs, gc.cost / 1000);
    writeFileSync(out, JSON.stringify({ allocatedBytes, collections: result.statistics.length, gcMs: pauseUs / 1000, longestGcMs, loop }));
    session?.post('HeapProfiler.stopSampling', (err, sampled) => {
      if (err !== null || sitesOut === undefined) return;
      const sites = new Map<string, number>();
      const walk = (node: SampleNode) => {
        const f = node.callFrame;
        const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|src)\//, '$1/')}:${f.lineNumber + 1}`;
        sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
        for (const child of node.children) walk(child);
      };
      walk((sampled as { profile: { head: SampleNode } }).profile.head);
      const total = [...sites.values()].reduce((a, b) => a + b, 0);
      writeFileSync(sitesOut, JSON.stringify({ total, sites: [...sites].sort((a, b) => b[1] - a[1]).slice(0, 40) }, null, 1));
    });
  });
}
