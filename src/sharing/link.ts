// One process's part in a cluster of mirrorgate instances sharing a Redis (cluster.redis). Every
// second, in one round trip (tick), a process:
// - writes its member record (name, role, config digest, the bytes it redirected per mirror over the
//   capacity window) and reads everyone's: utilisation then counts every instance's bytes, and a
//   second config digest among the live members is config drift;
// - sends its counter batch for the cluster totals (totals.ts: added exactly once);
// - if it probes (single process or primary): renews and takes probe leases, one per mirror. It
//   probes only the mirrors it holds; what a holder finds is published (health stored in a hash and
//   announced on a channel, per-file evidence announced), and every prober adopts it (Prober.adopt*).
// Nothing on the redirect path touches Redis: it reads MirrorStates, which this fills in.
// When Redis has not answered for cluster.fallbackSeconds the process falls back: it probes every
// mirror itself and uses its own load estimate. When Redis answers again it rejoins: leases are taken
// anew, the stored health is read, and buffered counts are sent (once).
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../config/load.js';
import type { Log } from '../log.js';
import type { MirrorStates } from '../probing/mirror-states.js';
import type { Health } from '../probing/health.js';
import type { Evidence, FileRef } from '../probing/freshness.js';
import type { MinuteTally } from '../counters/counters.js';
import { openRedis, redisAddress } from './connect.js';
import { Keys, LEASE_SCRIPT, RELEASE_SCRIPT, TOTALS_SCRIPT } from './keys.js';
import { Members, digests, preferredProber, type MemberRecord } from './members.js';
import { TotalsBuffer, type Batch } from './totals.js';

/** What a prober publishes after each health round of a mirror it holds. */
export interface HealthRecord {
  readonly health: Health;
  readonly syncStamp: number | undefined;
  readonly capacityMbps: number;
}

/** The link as the prober sees it. */
export interface ProbeSharing {
  /** Whether this process probes `mirror` now: it holds the lease, or Redis is away. */
  probes(mirror: string): boolean;
  /** Before a content check: 'mine' to run it, else another process is running it and this is its evidence (undefined: none in time). */
  claimCheck(mirror: string, file: FileRef, waitMs: number): Promise<'mine' | Evidence | undefined>;
  publishHealth(mirror: string, record: HealthRecord): void;
  publishEvidence(mirror: string, path: string, evidence: Evidence): void;
}

export interface LinkHost {
  readonly role: 'single' | 'primary' | 'worker';
  readonly instance: string;
  readonly processLabel: string;
  config(): Config;
  readonly states: MirrorStates;
  now(): number;
  readonly log: Log;
  /** Another prober's findings, to keep (memory and SQLite). */
  adoptHealth(mirror: string, record: HealthRecord): void;
  adoptEvidence(mirror: string, path: string, evidence: Evidence): void;
}

type Event =
  | { readonly from: string; readonly kind: 'health'; readonly mirror: string; readonly record: HealthRecord }
  | { readonly from: string; readonly kind: 'evidence'; readonly mirror: string; readonly path: string; readonly evidence: Evidence };

/** How often a process beats, and how often leases are renewed. */
export const TICK_MS = 1000;
/** A process that has not seen a free lease taken by its preferred prober this many ticks takes it itself. */
const FREE_TICKS_BEFORE_TAKING = 2;
/**
 * The live probers unchanged this long, a holder hands each lease it is not the preferred prober of to
 * the one that is (released; the preferred takes it on its next tick): instances that started later
 * get their share, and a short blip in membership moves nothing.
 */
const SETTLED_MS = 5000;
const CLOSE_WAIT_MS = 2000;

interface SharingRedis extends Redis {
  mgLease(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  mgRelease(numKeys: number, ...args: string[]): Promise<number>;
  mgTotals(numKeys: number, ...args: (string | number)[]): Promise<number>;
}

/** The evidence stored under a claim once the claimant has it; undefined while it holds only its claimant's name. */
function storedAnswer(text: string | null): Evidence | undefined {
  if (text === null || !text.startsWith('{')) return undefined;
  try {
    const event = JSON.parse(text) as Event;
    return event.kind === 'evidence' ? event.evidence : undefined;
  } catch {
    return undefined;
  }
}

export class ClusterLink implements ProbeSharing {
  readonly processId: string;
  readonly keys: Keys;
  readonly members = new Members();
  readonly totals: TotalsBuffer;
  private readonly redis: SharingRedis;
  private readonly sub: Redis | undefined;
  private readonly probing: boolean;
  private readonly held = new Set<string>();
  private readonly freeTicks = new Map<string, number>();
  /** When Redis last answered a tick (start counts: a starting process waits this long before probing alone). */
  private lastOkAt: number;
  private fallenBack = false;
  private caughtUp = false;
  private beat = 0;
  private drift = '';
  private probers = '';
  private probersSince = 0;
  private closed = false;
  private readonly waiters = new Map<string, Set<(e: Evidence | undefined) => void>>();
  readonly stats = { ticks: 0, failedTicks: 0, published: 0, received: 0, fallbacks: 0, rejoins: 0, leasesTaken: 0 };

  constructor(private readonly host: LinkHost) {
    const cluster = host.config().cluster;
    this.keys = new Keys(cluster.keyPrefix);
    this.processId = `${host.instance}/${host.processLabel}/${process.pid}/${randomBytes(4).toString('hex')}`;
    this.probing = host.role !== 'worker';
    this.totals = new TotalsBuffer(this.keys, this.processId, () => host.config().counters.hourRetentionDays * 86_400);
    const log = host.log;
    this.redis = openRedis(cluster, 'link', log) as SharingRedis;
    this.redis.defineCommand('mgLease', { lua: LEASE_SCRIPT });
    this.redis.defineCommand('mgRelease', { lua: RELEASE_SCRIPT });
    this.redis.defineCommand('mgTotals', { lua: TOTALS_SCRIPT });
    if (this.probing) {
      // A subscriber connection may queue its SUBSCRIBE until connected, and ioredis subscribes again after each reconnect.
      const sub = openRedis(cluster, 'events', log, { enableOfflineQueue: true, commandTimeout: undefined });
      sub.on('message', (_channel: string, text: string) => this.receive(text));
      void sub.subscribe(this.keys.events).catch(() => undefined);
      this.sub = sub;
    }
    this.lastOkAt = host.now();
    log.info({ redis: redisAddress(cluster), process: this.processId }, 'sharing probes, load and counters through redis');
  }

  /** Redis answered within cluster.fallbackSeconds. */
  get live(): boolean {
    return this.host.now() - this.lastOkAt < this.host.config().cluster.fallbackSeconds * 1000;
  }

  probes(mirror: string): boolean {
    return !this.live || this.held.has(mirror);
  }

  /** Counts written to SQLite: the same go to the cluster's totals. */
  addTotals(tallies: readonly MinuteTally[]): void {
    this.totals.add(tallies);
  }

  /** The work of one second; never throws (a failure is a tick without Redis). */
  async tick(): Promise<void> {
    if (this.closed) return;
    const now = this.host.now();
    const config = this.host.config();
    const mirrors = this.probing ? config.mirrors.filter((m) => m.enabled).map((m) => m.name) : [];
    const batch = this.totals.next();
    const pipe = this.redis.pipeline() as unknown as SharingPipeline;
    pipe.hset(this.keys.members, this.processId, JSON.stringify(this.record(now)));
    pipe.hgetall(this.keys.members);
    if (batch !== undefined) pipe.mgTotals(1, ...batch.keys, ...batch.args);
    const probers = this.liveProbers(now);
    const handOver = this.handOver(now, probers);
    if (handOver.length > 0) pipe.mgRelease(handOver.length, ...handOver.map((m) => this.keys.lease(m)), this.processId);
    if (mirrors.length > 0) {
      const wants = mirrors.map((m) => (!handOver.includes(m) && this.wants(m, probers) ? '1' : '0'));
      pipe.mgLease(mirrors.length, ...mirrors.map((m) => this.keys.lease(m)), this.processId, config.cluster.leaseSeconds * 1000, ...wants);
    }
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipe.exec();
    } catch {
      results = null;
    }
    if (this.closed) return;
    const hash = results?.[1];
    if (results === null || hash === undefined || hash[0] !== null) {
      this.failed();
      return;
    }
    this.stats.ticks += 1;
    this.answered(now, hash[1] as Record<string, string>);
    let i = 2;
    if (batch !== undefined) {
      if (results[i]?.[0] === null) this.totals.acknowledge(batch);
      i += 1;
    }
    if (handOver.length > 0) {
      if (results[i]?.[0] === null) {
        for (const m of handOver) this.held.delete(m);
        this.host.log.info({ mirrors: handOver }, 'probe leases handed to their preferred instance');
      }
      i += 1;
    }
    const leases = results[i];
    if (mirrors.length > 0 && leases !== undefined && leases[0] === null) this.leases(mirrors, leases[1] as number[]);
    if (this.probing && !this.caughtUp) await this.catchUp();
  }

  private record(now: number): MemberRecord {
    const load: Record<string, number> = {};
    if (this.host.role !== 'primary') {
      for (const m of this.host.config().mirrors) {
        const bytes = this.host.states.of(m).load.total(now);
        if (bytes > 0) load[m.name] = bytes;
      }
    }
    this.beat += 1;
    return {
      name: this.host.instance, process: this.processId, role: this.host.role, probes: this.probing,
      digest: this.host.config().digest, beat: this.beat, load,
    };
  }

  /** Held leases whose preferred prober is another live process, once the probers have settled. */
  /**
   * The live probing processes, sorted, this one among them even before its own record has been read
   * back: a lone instance takes its leases on its first tick, not its second.
   */
  private liveProbers(now: number): string[] {
    if (!this.probing) return [];
    const probers = this.members.live(now).filter((m) => m.probes && m.process !== this.processId).map((m) => m.process);
    return [...probers, this.processId].sort();
  }

  private handOver(now: number, probers: readonly string[]): string[] {
    if (this.held.size === 0) return [];
    const key = probers.join(',');
    if (key !== this.probers) {
      this.probers = key;
      this.probersSince = now;
    }
    if (now - this.probersSince < SETTLED_MS) return [];
    return [...this.held].filter((m) => preferredProber(m, probers) !== this.processId);
  }

  /** May this process take `mirror`'s lease when it is free: it is the preferred prober, or the free lease was left too long. */
  private wants(mirror: string, probers: readonly string[]): boolean {
    if (this.held.has(mirror)) return true;
    return preferredProber(mirror, probers) === this.processId || (this.freeTicks.get(mirror) ?? 0) >= FREE_TICKS_BEFORE_TAKING;
  }

  private answered(now: number, hash: Record<string, string>): void {
    this.lastOkAt = now;
    if (this.fallenBack) {
      this.fallenBack = false;
      this.caughtUp = false;
      this.stats.rejoins += 1;
      this.host.log.warn({ process: this.processId }, 'redis answers again: rejoined the cluster (leases, shared load and totals)');
    }
    this.members.update(hash, now);
    const forgotten = this.members.forgotten(now);
    if (forgotten.length > 0) void this.redis.hdel(this.keys.members, ...forgotten).catch(() => undefined);
    const live = this.members.live(now);
    this.shareLoad(live);
    this.watchDrift(live);
  }

  /** Utilisation counts what the other live processes redirected too. */
  private shareLoad(live: readonly MemberRecord[]): void {
    const states = this.host.states;
    for (const m of this.host.config().mirrors) {
      let others = 0;
      for (const member of live) if (member.process !== this.processId) others += member.load[m.name] ?? 0;
      states.of(m).othersLoad = others;
    }
    states.sharedLoad = true;
  }

  private watchDrift(live: readonly MemberRecord[]): void {
    const found = digests(live);
    const key = [...found.keys()].sort().join(',');
    if (key === this.drift) return;
    const was = this.drift;
    this.drift = key;
    const configs = Object.fromEntries([...found].map(([digest, names]) => [digest.slice(0, 12), names]));
    if (found.size > 1) {
      this.host.log.warn({ configs }, 'config drift: the instances sharing this redis run different mirrors.json files');
    } else if (was.includes(',')) {
      this.host.log.info({ configs }, 'config drift over: every instance runs the same mirrors.json');
    }
  }

  private leases(mirrors: readonly string[], answers: readonly number[]): void {
    mirrors.forEach((mirror, i) => {
      const answer = answers[i];
      if (answer === 1) {
        this.freeTicks.delete(mirror);
        if (this.held.has(mirror)) return;
        this.held.add(mirror);
        this.stats.leasesTaken += 1;
        // Probed here from now on: this process's own capacity estimate applies.
        this.host.states.get(mirror).sharedCapacityMbps = undefined;
        this.host.log.info({ mirror, process: this.processId }, 'probe lease taken: this instance probes the mirror');
        return;
      }
      if (this.held.delete(mirror)) this.host.log.info({ mirror }, 'probe lease held elsewhere now');
      if (answer === -1) this.freeTicks.set(mirror, (this.freeTicks.get(mirror) ?? 0) + 1);
      else this.freeTicks.delete(mirror);
    });
    for (const mirror of this.held) if (!mirrors.includes(mirror)) this.held.delete(mirror);
  }

  private failed(): void {
    this.stats.failedTicks += 1;
    if (this.fallenBack || this.live) return;
    this.fallenBack = true;
    this.stats.fallbacks += 1;
    this.held.clear();
    this.freeTicks.clear();
    this.members.clear();
    this.drift = '';
    const states = this.host.states;
    states.sharedLoad = false;
    for (const m of this.host.config().mirrors) {
      const state = states.get(m.name);
      state.othersLoad = 0;
      state.sharedCapacityMbps = undefined;
    }
    this.host.log.warn({ redis: redisAddress(this.host.config().cluster), seconds: this.host.config().cluster.fallbackSeconds },
      'redis unreachable: this instance probes every mirror itself and uses its own load estimates until it answers');
  }

  /** After (re)joining: the health the probers stored while this one was away or not yet started. */
  private async catchUp(): Promise<void> {
    let health: Record<string, string>;
    try {
      health = await this.redis.hgetall(this.keys.health);
    } catch {
      return;
    }
    for (const [mirror, text] of Object.entries(health)) {
      if (!this.held.has(mirror)) this.adopt(() => this.host.adoptHealth(mirror, JSON.parse(text) as HealthRecord));
    }
    this.caughtUp = true;
  }

  private adopt(apply: () => void): void {
    try {
      apply();
    } catch (err) {
      this.host.log.warn({ err: (err as Error).message }, 'cannot use a record read from redis');
    }
  }

  private receive(text: string): void {
    let event: Event;
    try {
      event = JSON.parse(text) as Event;
    } catch {
      return;
    }
    if (event.from === this.processId) return;
    this.stats.received += 1;
    if (event.kind === 'health') {
      if (!this.held.has(event.mirror)) this.adopt(() => this.host.adoptHealth(event.mirror, event.record));
      return;
    }
    this.adopt(() => this.host.adoptEvidence(event.mirror, event.path, event.evidence));
    const key = `${event.mirror}\n${event.path}`;
    const waiting = this.waiters.get(key);
    if (waiting === undefined) return;
    this.waiters.delete(key);
    for (const wake of waiting) wake(event.evidence);
  }

  /** Stored (one small record per mirror, for instances that join later) and announced. */
  publishHealth(mirror: string, record: HealthRecord): void {
    if (!this.ready) return;
    this.stats.published += 1;
    const event: Event = { from: this.processId, kind: 'health', mirror, record };
    void this.redis.pipeline().hset(this.keys.health, mirror, JSON.stringify(record)).publish(this.keys.events, JSON.stringify(event)).exec()
      .catch(() => undefined);
  }

  /**
   * Announced only: evidence can run to millions of (mirror, file) rows, more than Redis should hold.
   * Every prober keeps what it adopts in its own SQLite (a restart has it); an instance that was away
   * checks again what it is asked for, once across the cluster (claimCheck).
   */
  publishEvidence(mirror: string, path: string, evidence: Evidence): void {
    if (!this.ready) return;
    this.stats.published += 1;
    const text = JSON.stringify({ from: this.processId, kind: 'evidence', mirror, path, evidence } satisfies Event);
    // Also the answer to the check's claim, for as long as the claim lasts (KEEPTTL; XX: never a key
    // without expiry): an instance whose rescan had not found the file yet when the news went out reads
    // it there when it comes to check, instead of waiting the claim out and checking again. A recheck
    // due later is not held up: the claim and its answer expire together.
    void this.redis.pipeline()
      .set(this.keys.check(mirror, path, evidence.size, evidence.mtimeMs), text, 'KEEPTTL', 'XX')
      .publish(this.keys.events, text)
      .exec().catch(() => undefined);
  }

  /** When Redis is away nothing is sent: the next round's health is, and evidence is checked again when asked for. */
  private get ready(): boolean {
    return this.redis.status === 'ready' && !this.closed;
  }

  async claimCheck(mirror: string, file: FileRef, waitMs: number): Promise<'mine' | Evidence | undefined> {
    if (!this.live || this.redis.status !== 'ready') return 'mine';
    const key = this.keys.check(mirror, file.path, file.size, file.mtimeMs);
    try {
      if (await this.redis.set(key, this.processId, 'PX', waitMs, 'NX') === 'OK') return 'mine';
    } catch {
      return 'mine';
    }
    return new Promise((resolve) => {
      // Waiting first, then reading the claim: its answer is either already stored there or still to come.
      const waitKey = `${mirror}\n${file.path}`;
      let waiting = this.waiters.get(waitKey);
      if (waiting === undefined) this.waiters.set(waitKey, waiting = new Set());
      const set = waiting;
      const wake = (evidence: Evidence | undefined) => {
        clearTimeout(timer);
        set.delete(wake);
        resolve(evidence);
      };
      const timer = setTimeout(() => {
        wake(undefined);
        if (set.size === 0 && this.waiters.get(waitKey) === set) this.waiters.delete(waitKey);
      }, waitMs);
      timer.unref();
      set.add(wake);
      this.redis.get(key).then((text) => {
        const answer = storedAnswer(text);
        if (answer === undefined) return;
        this.adopt(() => this.host.adoptEvidence(mirror, file.path, answer)); // as the news would have been
        wake(answer);
      }, () => undefined);
    });
  }

  /** What the operator endpoints and the dashboard show. */
  status(): ClusterStatus {
    const now = this.host.now();
    const live = this.live ? this.members.live(now) : [];
    const configs = digests(live);
    return {
      redis: redisAddress(this.host.config().cluster),
      connected: this.live,
      instance: this.host.instance,
      process: this.processId,
      members: live.map((m) => ({ name: m.name, process: m.process, role: m.role, digest: m.digest, sameConfig: m.digest === this.host.config().digest })),
      instances: new Set(live.map((m) => m.name)).size,
      configDrift: configs.size > 1,
      leases: [...this.held].sort(),
      totalsPending: this.totals.size,
      totalsDropped: this.totals.dropped,
      ...this.stats,
    };
  }

  /** A clean stop: the last counts sent (briefly), leases given up so another prober takes over at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    const batch = this.totals.next();
    const held = [...this.held];
    this.closed = true;
    if (this.redis.status === 'ready') {
      const pipe = this.redis.pipeline() as unknown as SharingPipeline;
      if (batch !== undefined) pipe.mgTotals(1, ...batch.keys, ...batch.args);
      if (held.length > 0) pipe.mgRelease(held.length, ...held.map((m) => this.keys.lease(m)), this.processId);
      pipe.hdel(this.keys.members, this.processId);
      await Promise.race([pipe.exec().catch(() => undefined), new Promise((r) => setTimeout(r, CLOSE_WAIT_MS).unref())]);
    }
    for (const waiting of this.waiters.values()) for (const wake of waiting) wake(undefined);
    this.redis.disconnect();
    this.sub?.disconnect();
  }
}

export interface ClusterStatus {
  readonly redis: string;
  readonly connected: boolean;
  readonly instance: string;
  readonly process: string;
  readonly members: readonly { name: string; process: string; role: string; digest: string; sameConfig: boolean }[];
  readonly instances: number;
  readonly configDrift: boolean;
  readonly leases: readonly string[];
  readonly totalsPending: number;
  readonly totalsDropped: number;
}

interface SharingPipeline {
  hset(key: string, field: string, value: string): this;
  hgetall(key: string): this;
  hdel(key: string, ...fields: string[]): this;
  mgLease(numKeys: number, ...args: (string | number)[]): this;
  mgRelease(numKeys: number, ...args: string[]): this;
  mgTotals(numKeys: number, ...args: (string | number)[]): this;
  exec(): Promise<[Error | null, unknown][] | null>;
}

export type { Batch };
