import t from 'tap';
import { EvidenceMap } from '../../src/probing/evidence-map.js';
import type { Evidence, EvidenceStatus } from '../../src/probing/freshness.js';

const ev = (status: EvidenceStatus): Evidence => ({ status, size: 1, mtimeMs: 1, ctimeMs: 1, checkedAt: 1, method: 'head', detail: '' });

t.test('the verdict counts follow every set, replacement and delete', async (t) => {
  const m = new EvidenceMap();
  m.set('a', ev('fresh')).set('b', ev('stale')).set('c', ev('missing')).set('d', ev('fresh'));
  t.same(m.counts, { fresh: 2, stale: 1, missing: 1 });
  m.set('b', ev('fresh'));
  t.same(m.counts, { fresh: 3, stale: 0, missing: 1 }, 'a replaced verdict moves');
  m.delete('c');
  m.delete('nope');
  t.same(m.counts, { fresh: 3, stale: 0, missing: 0 });
  t.equal(m.size, 3);
  t.equal(m.get('a')?.status, 'fresh', 'reads are a Map\'s');
  m.clear();
  t.same(m.counts, { fresh: 0, stale: 0, missing: 0 });
});
