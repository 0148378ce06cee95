import { DURATION_PATTERN } from '../../shared/duration';
import { CONNECTION_NAME_PATTERN } from '../constants';

/**
 * Builders for the JSON Schema (draft-07) of booksync.yaml. The schema is plain data: it is what
 * ajv validates with, what `config/booksync.schema.json` ships for editors, and where every
 * default lives (ajv's `useDefaults` fills them in, so a default is written exactly once).
 *
 * Conventions: every property has a `description`; every mapping is closed
 * (`additionalProperties: false`), so an unknown key is always an error; reused value kinds are
 * inlined (no `$ref`: draft-07 ignores keywords beside a `$ref`, which would drop the
 * per-use description and default). A `title` names the kind of value, and the error formatter
 * picks its help text by that title (see TITLES).
 */
export type Schema = { [keyword: string]: unknown };

/** Titles that select an error message (src/config/issues.ts). */
export const TITLES = {
  secret: 'Secret reference',
  duration: 'Duration',
  connectionName: 'Connection name',
  envName: 'Environment variable name',
  amount: 'Decimal amount',
  percent: 'Percentage',
  schedule: 'Schedule',
  cron: 'Cron line',
  currency: 'Currency',
  fieldPath: 'Field path',
  journal: 'Journal code',
} as const;

/** What a value of each patterned kind looks like, for "(expected ...)" in messages. */
export const PATTERN_HELP: Readonly<Record<string, string>> = {
  [TITLES.connectionName]:
    "a connection name: lower-case letters, digits and '-', starting with a letter or digit",
  [TITLES.envName]:
    "an environment variable name: letters, digits and '_', not starting with a digit",
  [TITLES.amount]: 'a quoted decimal amount such as "0.50"',
  [TITLES.percent]: 'a quoted percentage such as "1.5%"',
  [TITLES.journal]: "a journal code: letters, digits, '_' and '-', e.g. BNK1",
};

type Extra = Schema;

/** A closed mapping. `default: {}` on optional sections lets the defaults inside it apply. */
export function object(
  description: string,
  properties: Record<string, Schema>,
  extra: Extra = {},
): Schema {
  return { type: 'object', description, properties, additionalProperties: false, ...extra };
}

export function string(description: string, extra: Extra = {}): Schema {
  return { type: 'string', description, minLength: 1, ...extra };
}

export function boolean(description: string, defaultValue: boolean): Schema {
  return { type: 'boolean', description, default: defaultValue };
}

export function integer(
  description: string,
  minimum: number,
  maximum: number,
  extra: Extra = {},
): Schema {
  return { type: 'integer', description, minimum, maximum, ...extra };
}

export function oneOfValues<T extends string | number>(
  description: string,
  values: readonly T[],
  extra: Extra = {},
): Schema {
  return {
    type: typeof values[0] === 'number' ? 'integer' : 'string',
    description,
    enum: [...values],
    ...extra,
  };
}

/** `500ms 90s 15m 4h 1d 2w` (src/shared/duration.ts); derived `<key>_ms` numbers sit beside it in Config. */
export function duration(description: string, defaultValue?: string): Schema {
  return {
    type: 'string',
    title: TITLES.duration,
    description: `${description} A whole number and a unit: ms, s, m, h, d or w (e.g. 90s, 15m, 4h).`,
    pattern: DURATION_PATTERN,
    format: 'booksync-duration',
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  };
}

/** A file system path; relative paths are resolved against the folder of the config file. */
export function path(description: string, extra: Extra = {}): Schema {
  return string(
    `${description} A relative path is resolved against the folder of the config file.`,
    extra,
  );
}

export function currency(description: string): Schema {
  return {
    type: 'string',
    title: TITLES.currency,
    description: `${description} ISO 4217 code, upper case (EUR, USD, ...).`,
    pattern: '^[A-Z]{3}$',
    format: 'booksync-currency',
  };
}

export function connectionName(description: string): Schema {
  return {
    type: 'string',
    title: TITLES.connectionName,
    description,
    pattern: CONNECTION_NAME_PATTERN,
    maxLength: 64,
  };
}

export function journalCode(description: string): Schema {
  return {
    type: 'string',
    title: TITLES.journal,
    description,
    pattern: '^[A-Za-z0-9][A-Za-z0-9_-]*$',
    maxLength: 16,
  };
}

/**
 * A secret is never written inline: `{ env: NAME }` reads an environment variable of the daemon,
 * `{ file: PATH }` reads a file (a relative name is looked up in systemd's $CREDENTIALS_DIRECTORY
 * first, then next to the config file). The loaded Config holds the resolved value.
 */
export function secret(description: string): Schema {
  return {
    type: 'object',
    title: TITLES.secret,
    description: `${description} Never inline: write { env: NAME } or { file: PATH }.`,
    properties: {
      env: {
        type: 'string',
        title: TITLES.envName,
        description: 'Name of an environment variable of the daemon holding the secret.',
        pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      },
      file: path(
        'File holding the secret (one trailing newline is dropped). A bare or relative name is looked up in $CREDENTIALS_DIRECTORY (systemd LoadCredential=) first, then next to the config file.',
      ),
    },
    additionalProperties: false,
    oneOf: [{ required: ['env'] }, { required: ['file'] }],
  };
}
