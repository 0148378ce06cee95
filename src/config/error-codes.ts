import type { CodesRaisedAs, ErrorCatalog } from '../shared/errors';

/** The stable codes of config loading, with the class that raises each; listed in docs/ERRORS.md. */
export const CONFIG_ERROR_CODES = {
  CONFIG_INVALID: {
    raisedAs: 'ConfigError',
    meaning:
      'the config file is invalid; every problem is listed as FILE:LINE:COL: key.path: what is wrong',
  },
  CONFIG_UNREADABLE: {
    raisedAs: 'ConfigError',
    meaning: 'the config file cannot be read (missing, permission denied, a folder, not UTF-8)',
  },
} as const satisfies ErrorCatalog;

/** The config codes that the class named `Raiser` raises. */
export type ConfigCodeOf<Raiser extends string> = CodesRaisedAs<typeof CONFIG_ERROR_CODES, Raiser>;
