import t from 'tap';
import { expectedBytes } from '../../src/http/range.js';

const cases: [string | undefined, number][] = [
  [undefined, 1000],
  ['bytes=0-99', 100],
  ['bytes=900-', 100],
  ['bytes=-10', 10],
  ['bytes=0-9,20-29', 20],
  ['bytes=0-5000', 1000],
  ['bytes=2000-', 0],
  ['items=0-1', 1000],
  ['bytes=abc', 1000],
];
for (const [range, bytes] of cases) {
  t.test(`${range} of 1000 → ${bytes}`, async (t) => t.equal(expectedBytes(range, 1000), bytes));
}
