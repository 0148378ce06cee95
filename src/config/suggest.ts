/** Edit distance (insert, delete, substitute one character), for did-you-mean hints. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * The known name closest to `input`: within 2 edits, or one of them a prefix of the other
 * (`lev` → `level`, `request` → `request_timeout`). Case is ignored. Undefined when none is close.
 */
export function closest(input: string, known: readonly string[]): string | undefined {
  const needle = input.toLowerCase();
  let best: { name: string; score: number } | undefined;
  for (const name of known) {
    const hay = name.toLowerCase();
    const distance = levenshtein(needle, hay);
    const prefix = needle.length >= 2 && (hay.startsWith(needle) || needle.startsWith(hay));
    if (distance > 2 && !prefix) continue;
    const score = distance <= 2 ? distance : 3;
    if (!best || score < best.score) best = { name, score };
  }
  return best?.name;
}
