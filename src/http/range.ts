// How many bytes a GET will really pull from the mirror: a resumed download or a segmented downloader
// asks for a Range, and counting the whole file each time would overstate the mirror's load.

/** Bytes a `Range: bytes=…` asks for out of `size`; the whole size when absent or not understood. */
export function expectedBytes(range: string | undefined, size: number): number {
  if (range === undefined || !range.startsWith('bytes=')) return size;
  let total = 0;
  for (const spec of range.slice(6).split(',')) {
    const m = /^\s*(\d*)-(\d*)\s*$/.exec(spec);
    if (m === null) return size;
    const [, a = '', b = ''] = m;
    if (a === '' && b === '') return size;
    if (a === '') total += Math.min(Number(b), size); // suffix: the last b bytes
    else {
      const start = Number(a);
      const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
      if (start <= end) total += end - start + 1;
    }
  }
  return Math.min(total, size);
}
