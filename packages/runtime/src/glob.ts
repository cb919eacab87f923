/**
 * Model route globs: `*` matches any run of characters (empty included), `?` exactly one; every
 * other character matches itself. Matching is the iterative two-pointer algorithm: on a mismatch
 * only the most recent `*` grows by one character, so the work is bounded by
 * name length × pattern length, never exponential (a regex built from the glob backtracks: a route
 * like `*gpt*-mini` against a 200 KB name held the event loop for about a minute).
 *
 * Returns what each `*` matched (in pattern order; a run of `*`s is one `*`), or null when the
 * name does not match. Earlier stars take the shortest text that lets the rest match.
 */
export function globMatch(pattern: string, text: string): string[] | null {
  const p = pattern.replace(/\*+/g, '*');
  // The number of each `*` by its pattern index.
  const starNumber = new Map<number, number>();
  for (let k = 0; k < p.length; k++) if (p[k] === '*') starNumber.set(k, starNumber.size);
  const starCount = starNumber.size;
  const starts: number[] = new Array<number>(starCount).fill(0);
  const ends: number[] = new Array<number>(starCount).fill(0);
  let i = 0; // position in text
  let j = 0; // position in pattern
  let star = -1; // pattern index of the last `*` seen
  let starNo = -1; // its number among the stars
  let mark = 0; // text position where that `*` currently ends
  while (i < text.length) {
    const c = p[j];
    if (c === '*') {
      star = j;
      starNo = starNumber.get(j) as number;
      starts[starNo] = i;
      ends[starNo] = i;
      mark = i;
      j++;
    } else if (c !== undefined && (c === '?' || c === text[i])) {
      i++;
      j++;
    } else if (star !== -1) {
      // Grow the last `*` by one character and retry what follows it.
      mark++;
      ends[starNo] = mark;
      i = mark;
      j = star + 1;
    } else {
      return null;
    }
  }
  while (p[j] === '*') {
    starNo = starNumber.get(j) as number;
    starts[starNo] = i;
    ends[starNo] = i;
    j++;
  }
  if (j !== p.length) return null;
  return starts.map((s, k) => text.slice(s, ends[k]));
}

/** `{*}` (the first `*`) and `{1}`, `{2}`, … (the stars in order) replaced by what they matched. */
export function substituteCaptures(template: string, captures: readonly string[]): string {
  return template.replace(/\{(\*|[1-9]\d*)\}/g, (whole, which: string) => {
    const value = captures[which === '*' ? 0 : Number(which) - 1];
    return value ?? whole;
  });
}
