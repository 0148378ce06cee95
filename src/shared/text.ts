/**
 * A value read from parsed JSON or YAML, as text for a message or a table: a string as it is, a
 * number, boolean or null as written, a mapping or a list as JSON (never "[object Object]").
 */
export function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  if (
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    typeof value === 'bigint' ||
    value === null ||
    value === undefined
  )
    return String(value);
  return typeof value; // a function or a symbol: no text of its own
}
