import { DEFAULT_STATE_DIR, LOG_FORMATS, LOG_LEVELS } from '../constants';
import { boolean, integer, object, oneOfValues, path, secret, string, type Schema } from './common';

/** `state_dir`, `log`, `local_api`: the daemon's own process settings. */

export const stateDirSchema: Schema = path(
  `Folder for the local books (LevelDB), sync bookkeeping and connection state. Default: $STATE_DIRECTORY (set by systemd StateDirectory=) when set, else ${DEFAULT_STATE_DIR}.`,
  { default: DEFAULT_STATE_DIR },
);

export const logSchema: Schema = object(
  'Logging: one JSON object a line on stdout (journald keeps it).',
  {
    level: oneOfValues('Most verbose level written.', LOG_LEVELS, { default: 'info' }),
    format: oneOfValues(
      'Lines on stdout: json, pretty (one readable line an event, for a terminal), or auto: pretty on a terminal, json under systemd/journald or into a pipe. log.file is always JSON.',
      LOG_FORMATS,
      { default: 'auto' },
    ),
    file: {
      type: ['string', 'null'],
      minLength: 1,
      description:
        'Optional second output, JSON lines appended to this file (e.g. /var/log/booksync.jsonl); null for none. A relative path is resolved against the folder of the config file.',
      default: null,
    },
  },
  { default: {} },
);

export const localApiSchema: Schema = object(
  'Local CouchDB-compatible endpoint through which accounting tools read and write the local books.',
  {
    enabled: boolean('Serve the local API.', false),
    host: string(
      'Address to listen on. Keep it on loopback unless a reverse proxy with TLS sits in front.',
      { default: '127.0.0.1' },
    ),
    port: integer('TCP port (0 picks a free one, for tests).', 0, 65535, { default: 5985 }),
    username: string('User name clients authenticate with (required when enabled).'),
    password: secret('Password clients authenticate with (required when enabled).'),
  },
  {
    default: {},
    if: { properties: { enabled: { const: true } }, required: ['enabled'] },
    then: { required: ['username', 'password'] },
  },
);
