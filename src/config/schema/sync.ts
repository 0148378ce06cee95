import {
  BACKOFF_KINDS,
  CONFLICT_STRATEGIES,
  SYNC_DIRECTIONS,
  SYNC_DOC_TYPES,
  SYNC_MODES,
  TIE_BREAKERS,
} from '../constants';
import { duration, integer, object, oneOfValues, TITLES, type Schema } from './common';

/** `sync`: which document types replicate in which direction, and how conflicts resolve. */

const direction = (description: string, extra: Schema = {}) =>
  oneOfValues(
    `${description} both: both ways; push: local to cloud only; pull: cloud to local only; none: not synced.`,
    SYNC_DIRECTIONS,
    extra,
  );

const conflict = (description: string, extra: Schema = {}) =>
  oneOfValues(
    `${description} local-wins / remote-wins: that side's document is kept; newest-wins: the later updated_at (ties broken deterministically); merge: three-way per field, both-changed fields go to tie_breaker; manual: keep local, record the conflict for an admin.`,
    CONFLICT_STRATEGIES,
    extra,
  );

const tieBreaker = () =>
  oneOfValues(
    'Only with conflict: merge (and then required): the strategy for a field both sides changed differently.',
    TIE_BREAKERS,
  );

const fieldList = (description: string): Schema => ({
  type: 'array',
  description,
  items: {
    type: 'string',
    title: TITLES.fieldPath,
    description:
      "A field path: names joined by '.', with [] after a list (internal_notes, bank_accounts[].iban).",
    format: 'booksync-field-path',
  },
  uniqueItems: true,
  default: [],
});

const syncTypeSchema = (type: string): Schema =>
  object(`How '${type}' documents sync. Keys left out take their value from sync.default.`, {
    direction: direction('Direction. Default: sync.default.direction.'),
    conflict: conflict('Conflict strategy. Default: sync.default.conflict (with its tie_breaker).'),
    tie_breaker: tieBreaker(),
    exclude: object(
      'Fields that never cross the wire; each side keeps its own values of them.',
      {
        push: fieldList('Fields never sent to the cloud.'),
        pull: fieldList('Fields never taken from the cloud.'),
        both: fieldList('Fields never synced either way.'),
      },
      { default: {} },
    ),
  });

export const syncSchema: Schema = object(
  'Replication between the local books and the cloud.',
  {
    mode: oneOfValues(
      'live: follow both change feeds and sync within a second; interval: run a cycle every `interval`.',
      SYNC_MODES,
      { default: 'live' },
    ),
    interval: duration('Time between cycles in interval mode (ignored in live mode).', '15m'),
    batch_size: integer('Most documents per request.', 1, 10_000, { default: 500 }),
    batch_bytes: integer('Most bytes per request.', 1024, 268_435_456, { default: 4_194_304 }),
    max_attachment_bytes: integer(
      'Largest attachment synced either way; a document with a larger one is not synced and the error names it.',
      1,
      1_073_741_824,
      { default: 20_971_520 },
    ),
    backoff: oneOfValues(
      'Wait between retries after a failure: exponential-jitter doubles it (with jitter) up to backoff_max; fixed always waits backoff_max.',
      BACKOFF_KINDS,
      {
        default: 'exponential-jitter',
      },
    ),
    backoff_max: duration('Longest wait between retries.', '5m'),
    auth_retry: duration(
      'Wait before trying again after the cloud refused the credentials (401/403).',
      '15m',
    ),
    default: object(
      'Policy of every document type not listed under types, and the defaults of the keys a listed type leaves out.',
      {
        direction: direction('Direction.', { default: 'none' }),
        conflict: conflict('Conflict strategy.', { default: 'manual' }),
        tie_breaker: tieBreaker(),
      },
      { default: {} },
    ),
    types: object(
      'Per document type policy.',
      Object.fromEntries(SYNC_DOC_TYPES.map((t) => [t, syncTypeSchema(t)])),
      { default: {} },
    ),
  },
  { default: {} },
);
