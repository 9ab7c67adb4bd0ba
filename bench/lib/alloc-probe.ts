// Preloaded into a server by the bench (`node --import dist/bench/lib/alloc-probe.js …`) to count the
// bytes it allocates on the JS heap between two SIGUSR2: the heap's growth plus everything each garbage
// collection in between freed (v8.GCProfiler). Written as JSON to $MIRRORGATE_ALLOC_OUT at the second
// signal. No server code knows of it.
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { writeFileSync } from 'node:fs';

const out = process.env.MIRRORGATE_ALLOC_OUT;
if (out !== undefined) {
  let profiler: GCProfiler | undefined;
  let startUsed = 0;
  process.on('SIGUSR2', () => {
    if (profiler === undefined) {
      profiler = new GCProfiler();
      startUsed = getHeapStatistics().used_heap_size;
      profiler.start();
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
    writeFileSync(out, JSON.stringify({ allocatedBytes, collections: result.statistics.length, gcMs: pauseUs / 1000 }));
  });
}
