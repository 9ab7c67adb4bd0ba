import t from 'tap';
import { writeFileSync, renameSync } from 'node:fs';
import { build, DEFAULT_MIRRORS, waitFor, writeConfig } from '../helper.js';

t.test('a valid edit of mirrors.json is applied live, without a restart', async (t) => {
  const { app, fixture } = await build(t, { config: { mirrors: [DEFAULT_MIRRORS[0]] } });
  t.equal((await app.inject({ url: '/releases/1.0/big.iso' })).headers['x-mirrorgate-mirror'], 'eu');
  const started = Date.now();
  writeConfig(fixture.configPath, { mirrors: [{ ...DEFAULT_MIRRORS[0], enabled: false }, DEFAULT_MIRRORS[1]] });
  t.ok(await waitFor(() => app.mirrorgate.config.mirrors.length === 2, 2000), 'applied within 2 s');
  t.comment(`applied after ${Date.now() - started} ms`);
  for (let i = 0; i < 10; i++) t.equal((await app.inject({ url: '/releases/1.0/big.iso' })).headers['x-mirrorgate-mirror'], 'us');
});

t.test('an edit that replaces the file (editor save, mv) is applied too', async (t) => {
  const { app, fixture } = await build(t, { config: { mirrors: [DEFAULT_MIRRORS[0]] } });
  writeConfig(`${fixture.configPath}.tmp`, { mirrors: [DEFAULT_MIRRORS[1]] });
  renameSync(`${fixture.configPath}.tmp`, fixture.configPath);
  t.ok(await waitFor(() => app.mirrorgate.config.mirrors[0]?.name === 'us', 2000));
});

t.test('an invalid edit is rejected and the last good config keeps serving', async (t) => {
  const { app, fixture } = await build(t, { config: { mirrors: [DEFAULT_MIRRORS[0]] } });
  writeConfig(fixture.configPath, { mirrors: [{ ...DEFAULT_MIRRORS[1], weight: -5 }] });
  t.ok(await waitFor(() => app.mirrorgate.reloads.rejected >= 1, 2000), 'the bad edit was seen');
  writeFileSync(fixture.configPath, '{ not json');
  t.ok(await waitFor(() => app.mirrorgate.reloads.rejected >= 2, 2000), 'broken JSON was seen');
  const result = await app.mirrorgate.reload();
  t.notOk(result.ok);
  t.equal(app.mirrorgate.config.mirrors[0]?.name, 'eu');
  const res = await app.inject({ url: '/releases/1.0/big.iso' });
  t.equal(res.statusCode, 302);
  t.equal(res.headers['x-mirrorgate-mirror'], 'eu');
});

t.test('requests keep being answered while the config changes under load', async (t) => {
  const rateLimit = { enabled: false };
  const { app, fixture } = await build(t, { config: { mirrors: [DEFAULT_MIRRORS[0]], rateLimit } });
  let stop = false;
  const statuses = new Map<number, number>();
  const load = (async () => {
    while (!stop) {
      const res = await app.inject({ url: '/releases/1.0/big.iso' });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      await new Promise((r) => setImmediate(r)); // let the watcher's timers run
    }
  })();
  for (let i = 0; i < 5; i++) {
    const applied = app.mirrorgate.reloads.applied;
    writeConfig(fixture.configPath, { mirrors: [i % 2 === 0 ? DEFAULT_MIRRORS[1] : DEFAULT_MIRRORS[0]], rateLimit });
    t.ok(await waitFor(() => app.mirrorgate.reloads.applied > applied, 10_000), `edit ${i + 1} applied under load`);
  }
  stop = true;
  await load;
  t.same([...statuses.keys()], [302], `only redirects: ${JSON.stringify([...statuses])}`);
  t.ok(app.mirrorgate.reloads.applied >= 1);
});
