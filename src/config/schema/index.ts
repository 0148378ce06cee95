import { bankSchema } from './bank';
import { cloudSchema } from './cloud';
import type { Schema } from './common';
import { localApiSchema, logSchema, stateDirSchema } from './core';
import { ledgerSchema } from './ledger';
import { ratesSchema } from './rates';
import { alertsSchema, opsSchema } from './ops';
import { syncSchema } from './sync';

export { PATTERN_HELP, TITLES, type Schema } from './common';
export { PROVIDER_SCHEMAS } from './bank';

/**
 * The JSON Schema of booksync.yaml, composed from one module per section. It is shipped as
 * config/booksync.schema.json (regenerate: `node dist/scripts/gen-schema.js`; a unit test fails
 * when the shipped file is stale).
 */
export const configSchema: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'booksync configuration',
  description:
    'booksync.yaml: see config/booksync.example.yaml for every key. Unknown keys are errors.',
  type: 'object',
  properties: {
    state_dir: stateDirSchema,
    log: logSchema,
    local_api: localApiSchema,
    cloud: cloudSchema,
    sync: syncSchema,
    bank: bankSchema,
    ledger: ledgerSchema,
    rates: ratesSchema,
    ops: opsSchema,
    alerts: alertsSchema,
  },
  required: ['cloud', 'ledger'],
  additionalProperties: false,
};

/** The shipped file's text: stable key order, two-space indent, final newline. */
export function schemaJson(): string {
  return `${JSON.stringify(configSchema, null, 2)}\n`;
}
