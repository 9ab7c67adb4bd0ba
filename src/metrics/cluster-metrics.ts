// /_mirrorgate/metrics under --workers N: one answer for the whole server, whichever worker Prometheus
// reaches. The worker asks the primary; the primary asks every worker for its registry (as JSON), adds
// its own and sums them with prom-client's AggregatorRegistry. A worker that dies leaves its last
// reported counters behind, added to every later answer, so a counter never goes down when a worker is
// replaced (what it counted after its last report is lost, never counted twice).
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** How long the primary waits for the workers' parts; a worker that does not answer is left out once. */
const PART_TIMEOUT_MS = 8000;

export interface MetricsPort {
  readonly id: number;
  send(message: { type: 'metrics-collect'; id: number }): void;
}

export class MetricsAggregator {
  private nextId = 0;
  private readonly collections = new Map<number, { waiting: Set<number>; parts: MetricsJson[]; done: () => void }>();
  private readonly last = new Map<number, MetricsJson>();
  /** The last counters of workers that are gone (one entry per departed worker: they die rarely). */
  private readonly departed: MetricsJson[] = [];

  constructor(private readonly own: Registry) {}

  /** The whole server's metrics in Prometheus text format. */
  async scrape(workers: readonly MetricsPort[]): Promise<string> {
    const id = ++this.nextId;
    const parts: MetricsJson[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, PART_TIMEOUT_MS);
      const waiting = new Set(workers.map((w) => w.id));
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      this.collections.set(id, { waiting, parts, done: finish });
      if (waiting.size === 0) finish();
      for (const w of workers) w.send({ type: 'metrics-collect', id });
    });
    this.collections.delete(id);
    const all = [await this.own.getMetricsAsJSON() as MetricsJson, ...parts];
    all.push(...this.departed);
    return AggregatorRegistry.aggregate(all).metrics();
  }

  /** A worker's registry, answering collection `id`. */
  receive(workerId: number, id: number, metrics: MetricsJson): void {
    this.last.set(workerId, metrics);
    const collection = this.collections.get(id);
    if (collection === undefined || !collection.waiting.delete(workerId)) return;
    collection.parts.push(metrics);
    if (collection.waiting.size === 0) collection.done();
  }

  /** A worker is gone: its counters (not its gauges, which end with it) stay in every later sum. */
  workerExited(workerId: number): void {
    const last = this.last.get(workerId);
    this.last.delete(workerId);
    for (const c of this.collections.values()) if (c.waiting.delete(workerId) && c.waiting.size === 0) c.done();
    if (last === undefined) return;
    const counters = last.filter((m) => String(m.type) === 'counter' && m.name.startsWith('mirrorgate_'));
    if (counters.length > 0) this.departed.push(counters);
  }
}
