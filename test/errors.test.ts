import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errors, isMirrorgateError } from '../src/errors.js';
import { PACKAGE_ROOT } from '../src/paths.js';

t.test('every error code is documented in docs/errors.md', async (t) => {
  const doc = readFileSync(join(PACKAGE_ROOT, 'docs/errors.md'), 'utf8');
  for (const code of Object.keys(errors)) t.match(doc, `| \`${code}\` |`, code);
});

t.test('codes follow MG_ERR_<AREA>_<WHAT> and are recognised', async (t) => {
  for (const [code, Ctor] of Object.entries(errors)) {
    t.match(code, /^MG_ERR_[A-Z]+_[A-Z_]+$/);
    const err = new Ctor('a', 'b', 1);
    t.equal(err.code, code);
    t.ok(isMirrorgateError(err));
  }
  t.notOk(isMirrorgateError(new Error('plain')));
});
