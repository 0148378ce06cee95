import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BANK_PROVIDERS,
  CONFLICT_STRATEGIES,
  ConfigError,
  describeConfig,
  loadConfig,
  parseConfigText,
  secretValues,
  SYNC_DOC_TYPES,
  type Config,
  type LoadOptions,
} from '../../src/config';
import { BooksyncError } from '../../src/shared/errors';

const ROOT = path.resolve(__dirname, '../../..');
const FILE = '/etc/booksync/booksync.yaml';
/** The two required sections, appended to each `yaml` case so its own lines start at line 1. */
const REQUIRED = ['cloud: { url: embedded }', 'ledger: { company: { name: Demo, currency: EUR } }'];
const MINIMAL = `${REQUIRED.join('\n')}\n`;

/** The place and text of an issue, without the file: `LINE:COL: key.path: message`. */
function short(i: { line: number; col: number; path: string; message: string }): string {
  return `${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  return assert.fail('expected a ConfigError, the config loaded');
}

function issuesOf(text: string, opts: LoadOptions = { env: {} }): string[] {
  return configError(() => parseConfigText(text, FILE, opts)).issues.map(short);
}

function load(text: string, opts: LoadOptions = { env: {} }, file = FILE): Config {
  return parseConfigText(text, file, opts);
}

interface MalformedCase {
  name: string;
  /** Lines of the case; the required sections are appended after them. */
  yaml?: string[];
  /** Lines of a whole file (for cases about the required sections or the file itself). */
  whole?: string[];
  /** Every issue, in file order. */
  expect: string[];
}

/** Malformed configs, each with the exact place and key path of every issue it must produce. */
const MALFORMED: MalformedCase[] = [
  {
    name: 'unknown key, did-you-mean',
    yaml: ['log:', '  levle: info'],
    expect: ["2:3: log.levle: unknown key (did you mean 'level'?)"],
  },
  {
    name: 'unknown top-level key, no close match',
    yaml: ['zzz: 1'],
    expect: [
      '1:1: zzz: unknown key (allowed: state_dir, log, local_api, cloud, sync, bank, ledger, rates, ops, alerts)',
    ],
  },
  {
    name: 'unknown key, prefix suggestion',
    yaml: ['bank:', '  request: 60s'],
    expect: ["2:3: bank.request: unknown key (did you mean 'request_timeout'?)"],
  },
  {
    name: 'unknown doc type under sync.types',
    yaml: ['sync:', '  types:', '    patner: { direction: both }'],
    expect: ["3:5: sync.types.patner: unknown key (did you mean 'partner'?)"],
  },
  {
    name: 'bad conflict strategy',
    yaml: ['sync:', '  types:', '    move: { direction: both, conflict: lcoal-wins }'],
    expect: [
      "3:40: sync.types.move.conflict: unknown strategy 'lcoal-wins' (allowed: local-wins, remote-wins, newest-wins, merge, manual)",
    ],
  },
  {
    name: 'bad cloud compression',
    whole: [
      'cloud: { url: embedded, compression: zip }',
      'ledger: { company: { name: Demo, currency: EUR } }',
    ],
    expect: ["1:38: cloud.compression: unknown compression 'zip' (allowed: auto, gzip, none)"],
  },
  {
    name: 'rates: unknown provider, schedule, URL and key',
    yaml: [
      'rates:',
      '  provider: fed',
      '  schedule: { every: soon }',
      '  url: ftp://rates.example.com/daily.xml',
      '  foldr: /srv/rates',
    ],
    expect: [
      "2:13: rates.provider: unknown provider 'fed' (allowed: ecb, none)",
      "3:22: rates.schedule.every: 'soon' is not a duration (a whole number and a unit: 500ms, 90s, 15m, 4h, 1d, 2w)",
      '4:8: rates.url: not an http(s) URL (expected an http(s) URL)',
      "5:3: rates.foldr: unknown key (did you mean 'folder'?)",
    ],
  },
  {
    name: 'bad log level',
    yaml: ['log: { level: verbose }'],
    expect: ["1:15: log.level: unknown level 'verbose' (allowed: error, warn, info, debug)"],
  },
  {
    name: 'bad direction in sync.default',
    yaml: ['sync:', '  default: { direction: sideways }'],
    expect: [
      "2:25: sync.default.direction: unknown direction 'sideways' (allowed: both, push, pull, none)",
    ],
  },
  {
    name: 'number where text is expected',
    yaml: ['log: { file: 5 }'],
    expect: ['1:14: log.file: wrong type: number 5 (expected text or null; quote it: "5")'],
  },
  {
    name: 'text where a whole number is expected',
    yaml: ['sync:', '  batch_size: lots'],
    expect: ["2:15: sync.batch_size: wrong type: text 'lots' (expected a whole number)"],
  },
  {
    name: 'mapping where a list is expected',
    yaml: ['bank:', '  connections: { name: x }'],
    expect: ['2:16: bank.connections: wrong type: a mapping (expected a list)'],
  },
  {
    name: 'empty section',
    yaml: ['log:', 'sync: {}'],
    expect: [
      '1:1: log: wrong type: an empty value (expected a mapping; write {} or leave the key out)',
    ],
  },
  {
    name: 'number out of range',
    yaml: ['local_api: { port: 70000 }'],
    expect: ['1:20: local_api.port: 70000 is out of range (allowed: 0 to 65535)'],
  },
  {
    name: 'bad duration',
    yaml: ['sync:', '  interval: 15 min'],
    expect: [
      "2:13: sync.interval: '15 min' is not a duration (a whole number and a unit: 500ms, 90s, 15m, 4h, 1d, 2w)",
    ],
  },
  {
    name: 'zero duration',
    whole: [
      'cloud: { url: embedded, request_timeout: 0s }',
      'ledger: { company: { name: Demo, currency: EUR } }',
    ],
    expect: [
      "1:42: cloud.request_timeout: '0s' is zero (expected a duration longer than zero, a whole number and a unit: 500ms, 90s, 15m, 4h, 1d, 2w)",
    ],
  },
  {
    name: 'cron with 4 fields',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: a, provider: simplefin, journal: J, credentials: { setup_token: { env: T } }, schedule: { cron: "0 6 * *" } }',
    ],
    expect: [
      "3:111: bank.connections[0].schedule.cron: '0 6 * *' has 4 fields (expected a cron line of 5 fields: minute hour day-of-month month day-of-week, or 6 with seconds first)",
    ],
  },
  {
    name: 'cron value out of range',
    yaml: [
      'bank:',
      '  connections:',
      '    - name: a',
      '      provider: simplefin',
      '      journal: J',
      '      credentials: { setup_token: { env: T } }',
      '      schedule:',
      '        cron: "61 * * * *"',
    ],
    expect: [
      "8:15: bank.connections[0].schedule.cron: '61 * * * *' is not a valid cron line: Constraint error, got value 61 expected range 0-59 (5 fields: minute hour day-of-month month day-of-week, or 6 with seconds first)",
    ],
  },
  {
    name: 'schedule with every and cron',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: a, provider: simplefin, journal: J, credentials: { setup_token: { env: T } }, schedule: { every: 4h, cron: "0 6 * * *" } }',
    ],
    expect: [
      "3:103: bank.connections[0].schedule: 'every' and 'cron' given together (give exactly one)",
    ],
  },
  {
    name: 'empty schedule',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: a, provider: simplefin, journal: J, credentials: { setup_token: { env: T } }, schedule: {} }',
    ],
    expect: ["3:103: bank.connections[0].schedule: missing 'every' or 'cron' (give exactly one)"],
  },
  {
    name: 'inline secret',
    whole: [
      'cloud:',
      '  url: https://couch.example.com/books',
      '  auth: { username: booksync, password: hunter2 }',
      'ledger: { company: { name: Demo, currency: EUR } }',
    ],
    expect: [
      '3:41: cloud.auth.password: secrets are never inline (write { env: NAME } or { file: PATH })',
    ],
  },
  {
    name: 'secret with env and file',
    yaml: ['local_api:', '  password: { env: A, file: b }'],
    expect: ["2:13: local_api.password: 'env' and 'file' given together (give exactly one)"],
  },
  {
    name: 'secret with a bad env name',
    yaml: ['local_api:', '  password: { env: 1BAD }'],
    expect: [
      "2:20: local_api.password.env: invalid environment variable name '1BAD' (expected an environment variable name: letters, digits and '_', not starting with a digit)",
    ],
  },
  {
    name: 'secret with an unknown key',
    yaml: ['local_api:', '  password: { evn: A }'],
    expect: [
      "2:13: local_api.password: missing 'env' or 'file' (give exactly one)",
      "2:15: local_api.password.evn: unknown key (did you mean 'env'?)",
    ],
  },
  {
    name: 'missing environment variable',
    yaml: ['local_api:', '  password: { env: NOT_SET_ANYWHERE }'],
    expect: [
      "2:20: local_api.password: environment variable NOT_SET_ANYWHERE is not set (set it in the daemon's environment, e.g. Environment= or EnvironmentFile= in the systemd unit)",
    ],
  },
  {
    name: 'unreadable secret file',
    yaml: ['local_api:', '  password: { file: no-such-secret }'],
    expect: [
      '2:21: local_api.password: cannot read secret file /etc/booksync/no-such-secret (no such file)',
    ],
  },
  {
    name: 'duplicate connection names',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: main, provider: simplefin, journal: J, credentials: { setup_token: { env: T } } }',
      '    - { name: main, provider: simplefin, journal: J, credentials: { setup_token: { env: T } } }',
    ],
    expect: [
      "4:15: bank.connections[1].name: duplicate connection name 'main' (names must be unique; first used at bank.connections[0])",
    ],
  },
  {
    name: 'invalid connection name',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: Main_1, provider: simplefin, journal: J, credentials: { setup_token: { env: T } } }',
    ],
    expect: [
      "3:15: bank.connections[0].name: invalid connection name 'Main_1' (expected a connection name: lower-case letters, digits and '-', starting with a letter or digit)",
    ],
  },
  {
    name: 'unknown provider',
    yaml: ['bank:', '  connections:', '    - { name: a, provider: plaid, journal: J }'],
    expect: [
      "3:28: bank.connections[0].provider: unknown provider 'plaid' (allowed: dropfolder, ofx-direct, simplefin, gocardless, enablebanking)",
    ],
  },
  {
    name: 'dropfolder without settings',
    yaml: ['bank:', '  connections:', '    - { name: a, provider: dropfolder, journal: J }'],
    expect: [
      "3:7: bank.connections[0].settings: missing required key 'path' (needed when provider is dropfolder)",
    ],
  },
  {
    name: 'unknown provider setting',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: a, provider: dropfolder, journal: J, settings: { path: in, keep_file: true } }',
    ],
    expect: [
      "3:74: bank.connections[0].settings.keep_file: unknown key (did you mean 'keep_files'?)",
    ],
  },
  {
    name: 'credentials for dropfolder',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: a, provider: dropfolder, journal: J, settings: { path: in }, credentials: { token: { env: T } } }',
    ],
    expect: ['3:91: bank.connections[0].credentials.token: unknown key (no keys are allowed here)'],
  },
  {
    name: 'simplefin without credentials',
    yaml: ['bank:', '  connections:', '    - { name: a, provider: simplefin, journal: J }'],
    expect: [
      "3:7: bank.connections[0].credentials: missing required key 'setup_token' (needed when provider is simplefin)",
    ],
  },
  {
    name: 'ofx-direct: bank_id needed and remote http',
    yaml: [
      'bank:',
      '  connections:',
      '    - name: a',
      '      provider: ofx-direct',
      '      journal: J',
      '      credentials: { username: { env: T }, password: { env: T } }',
      '      settings: { url: "http://bank.example/ofx", org: O, fid: "1", account_id: "2" }',
    ],
    expect: [
      "7:17: bank.connections[0].settings: missing required key 'bank_id' (needed unless account_type is CREDITCARD)",
      '7:24: bank.connections[0].settings.url: plain http to a remote host (expected https://..., or http:// to a loopback address: credentials travel in the request)',
    ],
  },
  {
    name: 'custom institution with unknown key',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: a, provider: simplefin, journal: J, credentials: { setup_token: { env: T } }, institution: { nam: Bank } }',
    ],
    expect: [
      "3:106: bank.connections[0].institution: missing required key 'name'",
      "3:108: bank.connections[0].institution.nam: unknown key (did you mean 'name'?)",
    ],
  },
  {
    name: 'institution of the wrong type',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: a, provider: simplefin, journal: J, credentials: { setup_token: { env: T } }, institution: [x] }',
    ],
    expect: [
      '3:106: bank.connections[0].institution: wrong type: a list (expected text or a mapping)',
    ],
  },
  {
    name: 'history_days out of range',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: a, provider: simplefin, journal: J, credentials: { setup_token: { env: T } }, history_days: 0 }',
    ],
    expect: ['3:107: bank.connections[0].history_days: 0 is out of range (allowed: 1 to 730)'],
  },
  {
    name: 'ledger mapping for an unknown connection',
    whole: [
      'bank:',
      '  connections:',
      '    - { name: main-checking, provider: simplefin, journal: BNK1, credentials: { setup_token: { env: T } } }',
      'cloud: { url: embedded }',
      'ledger:',
      '  company: { name: Demo, currency: EUR }',
      '  connections:',
      '    main-cheking: { bank_account: "1010", suspense_account: "1099" }',
    ],
    expect: [
      "8:5: ledger.connections.main-cheking: no bank connection named 'main-cheking' (did you mean 'main-checking'?)",
    ],
  },
  {
    name: 'ledger journal differs from the connection',
    whole: [
      'bank:',
      '  connections:',
      '    - { name: main, provider: simplefin, journal: BNK1, credentials: { setup_token: { env: T } } }',
      'cloud: { url: embedded }',
      'ledger:',
      '  company: { name: Demo, currency: EUR }',
      '  connections:',
      '    main: { journal: BNK2, bank_account: "1010", suspense_account: "1099" }',
    ],
    expect: [
      "8:22: ledger.connections.main.journal: journal 'BNK2' differs from bank.connections[0].journal 'BNK1' (leave it out or use the same journal)",
    ],
  },
  {
    name: 'account code written as a number',
    whole: [
      'bank:',
      '  connections:',
      '    - { name: main, provider: simplefin, journal: BNK1, credentials: { setup_token: { env: T } } }',
      'cloud: { url: embedded }',
      'ledger:',
      '  company: { name: Demo, currency: EUR }',
      '  connections:',
      '    main: { bank_account: 1010, suspense_account: "1099" }',
    ],
    expect: [
      '8:27: ledger.connections.main.bank_account: wrong type: number 1010 (expected text; quote it: "1010")',
    ],
  },
  {
    name: 'merge without tie_breaker',
    yaml: ['sync:', '  types:', '    partner: { direction: both, conflict: merge }'],
    expect: [
      "3:14: sync.types.partner: missing required key 'tie_breaker' (needed when conflict is merge; allowed: local-wins, remote-wins, newest-wins, manual)",
    ],
  },
  {
    name: 'tie_breaker without merge',
    yaml: [
      'sync:',
      '  types:',
      '    move:',
      '      conflict: manual',
      '      tie_breaker: remote-wins',
    ],
    expect: [
      "5:7: sync.types.move.tie_breaker: only applies with conflict: merge (conflict here is 'manual')",
    ],
  },
  {
    name: 'tie_breaker cannot be merge',
    yaml: ['sync:', '  default: { conflict: merge, tie_breaker: merge }'],
    expect: [
      "2:44: sync.default.tie_breaker: unknown strategy 'merge' (allowed: local-wins, remote-wins, newest-wins, manual)",
    ],
  },
  {
    name: 'unknown currency',
    whole: ['cloud: { url: embedded }', 'ledger:', '  company: { name: Demo, currency: EUX }'],
    expect: [
      "3:36: ledger.company.currency: 'EUX' is not an ISO 4217 currency code (expected upper case, e.g. EUR, USD, GBP)",
    ],
  },
  {
    name: 'lower-case currency',
    whole: ['cloud: { url: embedded }', 'ledger:', '  company: { name: Demo, currency: eur }'],
    expect: [
      "3:36: ledger.company.currency: 'eur' is not an ISO 4217 currency code (expected upper case, e.g. EUR, USD, GBP)",
    ],
  },
  {
    name: 'bad exclude paths',
    yaml: [
      'sync:',
      '  types:',
      '    partner:',
      '      exclude: { push: ["a..b", _id], both: [notes, notes] }',
    ],
    expect: [
      "4:25: sync.types.partner.exclude.push[0]: 'a..b' is not a field path (field names joined by '.', with [] after a list, e.g. internal_notes, bank_accounts[].iban)",
      "4:33: sync.types.partner.exclude.push[1]: '_id' names a CouchDB field (fields starting with '_' always sync; expected a document field)",
      "4:53: sync.types.partner.exclude.both[1]: duplicate entry 'notes' (entries must be unique)",
    ],
  },
  {
    name: 'tolerance with more decimals than the currency',
    whole: [
      'cloud: { url: embedded }',
      'ledger:',
      '  company: { name: Demo, currency: EUR }',
      '  reconcile:',
      '    rules:',
      '      - { kind: amount_window, tolerance: "0.505", days: 3 }',
    ],
    expect: [
      "6:43: ledger.reconcile.rules[0].tolerance: '0.505' is not an exact EUR amount (EUR has 2 decimals)",
    ],
  },
  {
    name: 'unknown rule kind and a key the kind does not take',
    whole: [
      'cloud: { url: embedded }',
      'ledger:',
      '  company: { name: Demo, currency: EUR }',
      '  reconcile:',
      '    rules:',
      '      - { kind: fuzzy }',
      '      - { kind: reference, days: 3 }',
      '      - { days: 3 }',
    ],
    expect: [
      "6:17: ledger.reconcile.rules[0].kind: unknown kind 'fuzzy' (allowed: reference, amount_partner, amount_window, transfer)",
      '7:28: ledger.reconcile.rules[1].days: unknown key (allowed: kind)',
      "8:9: ledger.reconcile.rules[2]: missing required key 'kind'",
    ],
  },
  {
    name: 'write_off without a tolerance, and not an account code',
    whole: [
      'cloud: { url: embedded }',
      'ledger:',
      '  company: { name: Demo, currency: EUR }',
      '  reconcile:',
      '    rules:',
      '      - { kind: amount_window, days: 5, write_off: "6270" }',
      '      - { kind: amount_window, tolerance: "0.00", days: 5, write_off: "6270" }',
      '      - { kind: amount_window, tolerance: "2.00", days: 5, write_off: 6270 }',
      '      - { kind: reference, write_off: "6270" }',
    ],
    expect: [
      "6:52: ledger.reconcile.rules[0].write_off: write_off '6270' needs a tolerance above 0 (a difference to write off)",
      "7:71: ledger.reconcile.rules[1].write_off: write_off '6270' needs a tolerance above 0 (a difference to write off)",
      '8:71: ledger.reconcile.rules[2].write_off: wrong type: number 6270 (expected text; quote it: "6270")',
      '9:28: ledger.reconcile.rules[3].write_off: unknown key (allowed: kind)',
    ],
  },
  {
    name: 'transfer rules: percent tolerance up to 10%, days required, only one',
    whole: [
      'cloud: { url: embedded }',
      'ledger:',
      '  company: { name: Demo, currency: EUR }',
      '  reconcile:',
      '    rules:',
      '      - { kind: transfer, days: 3, tolerance: "1.5" }',
      '      - { kind: transfer, days: 3, tolerance: "12%" }',
      '      - { kind: transfer, tolerance: "1%" }',
    ],
    expect: [
      `6:47: ledger.reconcile.rules[0].tolerance: invalid percentage '1.5' (expected a quoted percentage such as "1.5%")`,
      '7:17: ledger.reconcile.rules[1].kind: only one transfer rule is allowed (the first is ledger.reconcile.rules[0])',
      "7:47: ledger.reconcile.rules[1].tolerance: '12%' is above 10%: a bank's own rate is within a few percent, more would pair unrelated lines",
      "8:9: ledger.reconcile.rules[2]: missing required key 'days'",
      '8:17: ledger.reconcile.rules[2].kind: only one transfer rule is allowed (the first is ledger.reconcile.rules[0])',
    ],
  },
  {
    name: 'local API enabled without credentials',
    yaml: ['local_api:', '  enabled: true'],
    expect: [
      "2:3: local_api: missing required keys 'username', 'password' (needed when enabled is true)",
    ],
  },
  {
    name: 'URL with a password',
    whole: [
      'cloud: { url: "https://admin:s3cret@couch.example.com/books" }',
      'ledger: { company: { name: Demo, currency: EUR } }',
    ],
    expect: [
      '1:15: cloud.url: the URL contains a user name or password (secrets are never inline: put them under auth, the password as { env: NAME } or { file: PATH })',
    ],
  },
  {
    name: 'missing required sections',
    whole: ['log: { level: info }'],
    expect: ["1:1: missing required keys 'cloud', 'ledger'"],
  },
  {
    name: 'YAML: duplicate key',
    yaml: ['log:', '  level: info', '  level: debug'],
    expect: ['3:3: log.level: duplicate key (a key may appear only once in a mapping)'],
  },
  {
    name: 'YAML: tab indentation',
    whole: ['log:', '\tlevel: info'],
    expect: ['2:1: tab used for indentation (indent with spaces)'],
  },
  {
    name: 'YAML: unclosed flow mapping',
    whole: ['log: { level: info'],
    expect: [
      '2:1: Flow map in block collection must be sufficiently indented and end with a } (YAML syntax)',
    ],
  },
  {
    name: 'YAML: two documents',
    whole: ['log: {}', '---', 'log: {}'],
    expect: ['2:1: more than one YAML document (expected exactly one; remove the extra ---)'],
  },
  {
    name: 'YAML: unknown alias',
    yaml: ['log: *defaults'],
    expect: ['1:6: unknown alias *defaults (expected an anchor &defaults defined above it)'],
  },
  {
    name: 'YAML: tag',
    yaml: ['log: { level: !!binary aGk= }'],
    expect: [
      '1:15: Unresolved tag: tag:yaml.org,2002:binary (expected plain values: text, numbers, true/false, null, mappings and lists, without tags)',
    ],
  },
  {
    name: 'empty file',
    whole: [],
    expect: [
      '1:1: the file is empty (expected a mapping of sections: state_dir, log, local_api, cloud, sync, bank, ledger, rates, ops, alerts)',
    ],
  },
  {
    name: 'only comments',
    whole: ['# nothing yet'],
    expect: [
      '1:1: the file is empty (expected a mapping of sections: state_dir, log, local_api, cloud, sync, bank, ledger, rates, ops, alerts)',
    ],
  },
  {
    name: 'top level is a list',
    whole: ['- cloud', '- ledger'],
    expect: [
      '1:1: the top level is a list (expected a mapping of sections: state_dir, log, local_api, cloud, sync, bank, ledger, rates, ops, alerts)',
    ],
  },
  {
    name: 'top level is a single value',
    whole: ['booksync'],
    expect: [
      '1:1: the top level is a single value (expected a mapping of sections: state_dir, log, local_api, cloud, sync, bank, ledger, rates, ops, alerts)',
    ],
  },

  {
    name: 'CSV mapping without an amount column',
    yaml: [
      'bank:',
      '  connections:',
      '    - name: a',
      '      provider: dropfolder',
      '      journal: J',
      '      settings:',
      '        path: in',
      '        csv: { date: Datum, payee: 3 }',
    ],
    expect: [
      "8:14: bank.connections[0].settings.csv: missing one of 'amount', 'debit', 'credit' (give at least one)",
    ],
  },
  {
    name: 'CSV column of the wrong type',
    yaml: [
      'bank:',
      '  connections:',
      '    - name: a',
      '      provider: dropfolder',
      '      journal: J',
      '      settings:',
      '        path: in',
      '        csv: { date: 0, amount: true, memo: [] }',
    ],
    expect: [
      '8:22: bank.connections[0].settings.csv.date: 0 is out of range (allowed: at least 1)',
      '8:33: bank.connections[0].settings.csv.amount: wrong type: true (expected text or a whole number)',
      '8:45: bank.connections[0].settings.csv.memo: empty list (expected at least 1 entry, or leave the key out)',
    ],
  },
  {
    name: 'unknown time zone',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: a, provider: simplefin, journal: J, credentials: { setup_token: { env: T } }, settings: { timezone: Europe/Madird } }',
    ],
    expect: [
      "3:115: bank.connections[0].settings.timezone: 'Europe/Madird' is not an IANA time zone (expected e.g. UTC, Europe/Madrid, America/New_York)",
    ],
  },
  {
    name: 'gocardless without a requisition and with an empty account list',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: a, provider: gocardless, journal: J, settings: { accounts: [] }, credentials: { secret_id: { env: T }, secret_key: { env: T } } }',
    ],
    expect: [
      "3:62: bank.connections[0].settings: missing required key 'requisition_id' (needed when provider is gocardless)",
      '3:74: bank.connections[0].settings.accounts: empty list (expected at least 1 entry, or leave the key out)',
    ],
  },

  {
    name: 'unions in list items are judged item by item',
    yaml: [
      'bank:',
      '  connections:',
      '    - { name: a, provider: dropfolder, journal: J, settings: { path: in }, institution: 5 }',
      '    - { name: b, provider: dropfolder, journal: J, settings: { path: in }, institution: { nam: Bank } }',
      '    - { name: c, provider: dropfolder, journal: J, settings: { path: in }, institution: demo-bank }',
    ],
    expect: [
      '3:89: bank.connections[0].institution: wrong type: number 5 (expected text or a mapping; quote it: "5")',
      "4:89: bank.connections[1].institution: missing required key 'name'",
      "4:91: bank.connections[1].institution.nam: unknown key (did you mean 'name'?)",
    ],
  },
];

describe('config: malformed files', () => {
  it(`has at least 30 distinct cases (${MALFORMED.length})`, () => {
    assert.ok(MALFORMED.length >= 30);
    assert.equal(new Set(MALFORMED.map((c) => c.name)).size, MALFORMED.length);
  });

  for (const c of MALFORMED) {
    it(c.name, () => {
      const lines = c.yaml ? [...c.yaml, ...REQUIRED] : (c.whole ?? []);
      const text = lines.length ? `${lines.join('\n')}\n` : '';
      assert.deepEqual(issuesOf(text, { env: { T: 'token' } }), c.expect);
    });
  }
});

describe('config: ConfigError', () => {
  it('is a BooksyncError with code CONFIG_INVALID, and format() gives FILE:LINE:COL: key.path: message a line', () => {
    const err = configError(() =>
      parseConfigText(`log:\n  levle: info\nsync: { mode: sometimes }\n${MINIMAL}`, FILE, {
        env: {},
      }),
    );
    assert.ok(err instanceof BooksyncError);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.equal(
      err.format(),
      [
        `${FILE}:2:3: log.levle: unknown key (did you mean 'level'?)`,
        `${FILE}:3:15: sync.mode: unknown mode 'sometimes' (allowed: live, interval)`,
      ].join('\n'),
    );
    assert.deepEqual(err.issues[0], {
      file: FILE,
      line: 2,
      col: 3,
      path: 'log.levle',
      message: "unknown key (did you mean 'level'?)",
    });
    assert.ok(err.message.includes(err.format()), 'the message carries every issue');
    assert.ok(Object.isFrozen(err.issues));
  });

  it('reports every error of a file at once, in file order (fixture many-errors.yaml)', () => {
    const file = path.join(ROOT, 'test/fixtures/config/many-errors.yaml');
    const err = configError(() => loadConfig(file, { env: {} }));
    assert.deepEqual(err.issues.map(short), [
      '2:12: state_dir: wrong type: number 42 (expected text; quote it: "42")',
      "4:3: log.levle: unknown key (did you mean 'level'?)",
      '8:13: local_api.password: secrets are never inline (write { env: NAME } or { file: PATH })',
      "11:20: cloud.request_timeout: '30 seconds' is not a duration (a whole number and a unit: 500ms, 90s, 15m, 4h, 1d, 2w)",
      "15:40: sync.types.move.conflict: unknown strategy 'lcoal-wins' (allowed: local-wins, remote-wins, newest-wins, merge, manual)",
      "16:14: sync.types.partner: missing required key 'tie_breaker' (needed when conflict is merge; allowed: local-wins, remote-wins, newest-wins, manual)",
      "23:29: bank.connections[0].credentials.setup_token: environment variable BOOKSYNC_TEST_UNSET_TOKEN is not set (set it in the daemon's environment, e.g. Environment= or EnvironmentFile= in the systemd unit)",
      "24:17: bank.connections[0].schedule: 'every' and 'cron' given together (give exactly one)",
      "25:13: bank.connections[1].name: duplicate connection name 'main-checking' (names must be unique; first used at bank.connections[0])",
      "28:32: bank.connections[1].settings.keep_file: unknown key (did you mean 'keep_files'?)",
      "32:5: ledger.connections.main-cheking: no bank connection named 'main-cheking' (did you mean 'main-checking'?)",
    ]);
    assert.ok(err.issues.every((i) => i.file === file));
  });

  it('a missing config file is CONFIG_UNREADABLE naming the path', () => {
    const missing = path.join(os.tmpdir(), `booksync-no-such-${process.pid}.yaml`);
    const err = configError(() => loadConfig(missing, { env: {} }));
    assert.equal(err.code, 'CONFIG_UNREADABLE');
    assert.equal(err.format(), `${missing}: cannot read the config file (no such file)`);
    assert.deepEqual(err.issues, [
      {
        file: missing,
        line: 0,
        col: 0,
        path: '',
        message: 'cannot read the config file (no such file)',
      },
    ]);
  });

  it('a folder given as the config file is CONFIG_UNREADABLE', () => {
    const err = configError(() => loadConfig(os.tmpdir(), { env: {} }));
    assert.equal(err.code, 'CONFIG_UNREADABLE');
    assert.match(err.format(), /cannot read the config file \(is a folder\)$/);
  });
});

describe('config: secrets', () => {
  let dir: string;
  let creds: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-config-'));
    creds = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-creds-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(creds, { recursive: true, force: true });
  });

  const withPassword = (ref: string) =>
    `cloud:\n  url: https://couch.example.com/books\n  auth: { username: booksync, password: ${ref} }\nledger: { company: { name: Demo, currency: EUR } }\n`;

  it('resolves { env: NAME } from the given environment', () => {
    const config = load(withPassword('{ env: CLOUD_PW }'), { env: { CLOUD_PW: 'pw-from-env' } });
    assert.equal(config.cloud.auth?.password, 'pw-from-env');
    assert.equal(config.cloud.auth?.method, 'basic');
  });

  it('reads { file: name } next to the config file, dropping one trailing newline', () => {
    fs.writeFileSync(path.join(dir, 'cloud.pw'), 'pw-from-file\n', { mode: 0o600 });
    const config = load(
      withPassword('{ file: cloud.pw }'),
      { env: {} },
      path.join(dir, 'booksync.yaml'),
    );
    assert.equal(config.cloud.auth?.password, 'pw-from-file');
  });

  it('looks a relative { file: name } up in $CREDENTIALS_DIRECTORY first', () => {
    fs.writeFileSync(path.join(dir, 'cloud.pw'), 'beside-config', { mode: 0o600 });
    fs.writeFileSync(path.join(creds, 'cloud.pw'), 'from-systemd\n');
    const config = load(
      withPassword('{ file: cloud.pw }'),
      { env: { CREDENTIALS_DIRECTORY: creds } },
      path.join(dir, 'booksync.yaml'),
    );
    assert.equal(config.cloud.auth?.password, 'from-systemd');
  });

  it('falls back to the config folder when $CREDENTIALS_DIRECTORY lacks the file, and names both places when neither has it', () => {
    fs.writeFileSync(path.join(dir, 'cloud.pw'), 'beside-config', { mode: 0o600 });
    const file = path.join(dir, 'booksync.yaml');
    assert.equal(
      load(withPassword('{ file: cloud.pw }'), { env: { CREDENTIALS_DIRECTORY: creds } }, file)
        .cloud.auth?.password,
      'beside-config',
    );
    const err = configError(() =>
      load(withPassword('{ file: other.pw }'), { env: { CREDENTIALS_DIRECTORY: creds } }, file),
    );
    assert.deepEqual(err.issues.map(short), [
      `3:49: cloud.auth.password: cannot read secret file ${path.join(creds, 'other.pw')} or ${path.join(dir, 'other.pw')} (no such file)`,
    ]);
  });

  it('reads an absolute { file: PATH } as is', () => {
    const secret = path.join(creds, 'abs.pw');
    fs.writeFileSync(secret, 'absolute', { mode: 0o600 });
    assert.equal(
      load(withPassword(`{ file: ${secret} }`), { env: {} }, path.join(dir, 'booksync.yaml')).cloud
        .auth?.password,
      'absolute',
    );
  });

  it('refuses a secret file group or others may open, naming the file, its mode and the chmod that fixes it', () => {
    const file = path.join(dir, 'booksync.yaml');
    const open = path.join(dir, 'open pw');
    fs.writeFileSync(open, 'pw');
    fs.chmodSync(open, 0o644);
    const err = configError(() => load(withPassword(`{ file: "${open}" }`), { env: {} }, file));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.deepEqual(err.issues.map(short), [
      `3:49: cloud.auth.password: secret file ${open} has mode 0644: group and others may read or change it; make it private to the service user: chmod 600 '${open}'`,
    ]);
    fs.chmodSync(open, 0o640);
    assert.match(
      configError(() => load(withPassword(`{ file: "${open}" }`), { env: {} }, file)).format(),
      /has mode 0640: group may read or change it; .*chmod 600/,
    );
    fs.chmodSync(open, 0o600);
    assert.equal(
      load(withPassword(`{ file: "${open}" }`), { env: {} }, file).cloud.auth?.password,
      'pw',
    );
  });

  it('accepts a secret file under $CREDENTIALS_DIRECTORY whatever its mode (systemd controls those)', () => {
    const file = path.join(dir, 'booksync.yaml');
    fs.writeFileSync(path.join(creds, 'cloud.pw'), 'from-systemd');
    fs.chmodSync(path.join(creds, 'cloud.pw'), 0o644);
    assert.equal(
      load(withPassword('{ file: cloud.pw }'), { env: { CREDENTIALS_DIRECTORY: creds } }, file)
        .cloud.auth?.password,
      'from-systemd',
    );
    assert.equal(
      load(
        withPassword(`{ file: ${path.join(creds, 'cloud.pw')} }`),
        { env: { CREDENTIALS_DIRECTORY: creds } },
        file,
      ).cloud.auth?.password,
      'from-systemd',
    );
  });

  it('an empty variable or file is an error naming the key', () => {
    fs.writeFileSync(path.join(dir, 'empty.pw'), '\n');
    const file = path.join(dir, 'booksync.yaml');
    assert.deepEqual(issuesOf(withPassword('{ env: CLOUD_PW }'), { env: { CLOUD_PW: '' } }), [
      '3:48: cloud.auth.password: environment variable CLOUD_PW is empty',
    ]);
    const err = configError(() => load(withPassword('{ file: empty.pw }'), { env: {} }, file));
    assert.deepEqual(err.issues.map(short), [
      `3:49: cloud.auth.password: secret file ${path.join(dir, 'empty.pw')} is empty`,
    ]);
  });

  it('an unreadable secret file is an error naming the key', function () {
    const folder = path.join(dir, 'a-folder');
    fs.mkdirSync(folder);
    const file = path.join(dir, 'booksync.yaml');
    const err = configError(() => load(withPassword('{ file: a-folder }'), { env: {} }, file));
    assert.deepEqual(err.issues.map(short), [
      `3:49: cloud.auth.password: cannot read secret file ${folder} (is a folder)`,
    ]);
    if (process.getuid?.() === 0) return; // root reads files whatever their mode
    const locked = path.join(dir, 'locked.pw');
    fs.writeFileSync(locked, 'x', { mode: 0o000 });
    const denied = configError(() => load(withPassword('{ file: locked.pw }'), { env: {} }, file));
    assert.deepEqual(denied.issues.map(short), [
      `3:49: cloud.auth.password: cannot read secret file ${locked} (permission denied)`,
    ]);
  });

  it('resolves every credential of every connection, and secretValues lists them for the log redaction', () => {
    fs.writeFileSync(path.join(creds, 'gc-key'), 'gc-secret-key');
    const text = [
      'local_api: { enabled: true, username: books, password: { env: LOCAL_PW } }',
      'cloud: { url: embedded }',
      'bank:',
      '  connections:',
      '    - { name: sf, provider: simplefin, journal: J, credentials: { setup_token: { env: SF_TOKEN } } }',
      '    - name: gc',
      '      provider: gocardless',
      '      journal: J',
      '      enabled: false',
      '      settings: { requisition_id: 8126e9fb-93d9-4d46-8f5d-1c5b3b0a2d9e }',
      '      credentials: { secret_id: { env: GC_ID }, secret_key: { file: gc-key } }',
      'ledger: { company: { name: Demo, currency: EUR } }',
      '',
    ].join('\n');
    const env = {
      LOCAL_PW: 'local-pw',
      SF_TOKEN: 'aHR0cHM6Ly9icmlkZ2Uuc2ltcGxlZmluLm9yZy9zaW1wbGVmaW4vY2xhaW0vZGVtbw==',
      GC_ID: 'gc-id',
      CREDENTIALS_DIRECTORY: creds,
    };
    const config = load(text, { env });
    const [sf, gc] = config.bank.connections;
    assert.deepEqual(sf.credentials, { setup_token: env.SF_TOKEN });
    assert.deepEqual(sf.settings, { timezone: 'UTC' }, 'no accounts list: every account');
    assert.deepEqual(gc.credentials, { secret_id: 'gc-id', secret_key: 'gc-secret-key' });
    assert.equal(config.local_api.password, 'local-pw');
    assert.deepEqual(secretValues(config), [env.SF_TOKEN, 'gc-secret-key', 'local-pw', 'gc-id']);
  });

  it('never puts a secret value into a ConfigError, whatever else is wrong', () => {
    const values = ['env-secret-4711', 'file-secret-4712', 'inline-secret-4713', 'url-secret-4714'];
    fs.writeFileSync(path.join(dir, 'gc-key'), values[1], { mode: 0o600 });
    const text = [
      'log: { level: loud }',
      'local_api: { enabled: true, username: books, password: inline-secret-4713 }',
      'cloud: { url: "https://admin:url-secret-4714@couch.example.com/books", auth: { username: u, password: { env: CLOUD_PW } } }',
      'bank:',
      '  connections:',
      '    - { name: gc, provider: gocardless, journal: J, settings: { requisition_id: r-1, bogus: 1 }, credentials: { secret_id: { env: GC_ID }, secret_key: { file: gc-key } } }',
      'ledger: { company: { name: Demo, currency: EUR } }',
      '',
    ].join('\n');
    const err = configError(() =>
      load(
        text,
        { env: { CLOUD_PW: values[0], GC_ID: values[0] } },
        path.join(dir, 'booksync.yaml'),
      ),
    );
    assert.equal(err.issues.length, 4, err.format());
    const everything = [
      err.message,
      err.format(),
      JSON.stringify(err),
      JSON.stringify(err.issues),
      JSON.stringify(err.toJSON()),
      String(err.stack),
    ].join('\n');
    for (const v of values) assert.ok(!everything.includes(v), `${v} leaked into the error`);
  });
});

describe('config: defaults, paths, result', () => {
  it('fills every default into a minimal config', () => {
    const config = load(MINIMAL);
    assert.equal(config.config_file, FILE);
    assert.equal(config.state_dir, '/var/lib/booksync');
    assert.deepEqual(config.log, { level: 'info', format: 'auto', file: null });
    assert.deepEqual(config.local_api, {
      enabled: false,
      host: '127.0.0.1',
      port: 5985,
      username: null,
      password: null,
    });
    assert.deepEqual(config.cloud, {
      url: 'embedded',
      urls: ['embedded'],
      embedded: true,
      auth: null,
      request_timeout: '30s',
      request_timeout_ms: 30_000,
      compression: 'auto',
    });
    const { types, ...sync } = config.sync;
    assert.deepEqual(sync, {
      mode: 'live',
      interval: '15m',
      interval_ms: 900_000,
      batch_size: 500,
      batch_bytes: 4_194_304,
      max_attachment_bytes: 20_971_520,
      backoff: 'exponential-jitter',
      backoff_max: '5m',
      backoff_max_ms: 300_000,
      auth_retry: '15m',
      auth_retry_ms: 900_000,
      default: { direction: 'none', conflict: 'manual', tie_breaker: null },
    });
    assert.deepEqual(Object.keys(types), [...SYNC_DOC_TYPES]);
    for (const t of SYNC_DOC_TYPES)
      assert.deepEqual(types[t], {
        direction: 'none',
        conflict: 'manual',
        tie_breaker: null,
        exclude: { push: [], pull: [], both: [] },
      });
    assert.deepEqual(config.bank, {
      request_timeout: '60s',
      request_timeout_ms: 60_000,
      connections: [],
    });
    assert.deepEqual(config.ledger, {
      company: { name: 'Demo', currency: 'EUR' },
      post_moves: 'posted',
      chart: null,
      accounts: {
        receivable: '1200',
        payable: '2000',
        opening_balance: '3000',
        fx_gain: '4900',
        fx_loss: '6900',
        transfer: '1090',
      },
      connections: {},
      reconcile: { rules: [] },
    });
  });

  it('fills connection and provider defaults', () => {
    const config = load(
      `bank:\n  connections:\n    - { name: a, provider: dropfolder, journal: BNK1, settings: { path: /srv/in } }\n${MINIMAL}`,
    );
    assert.deepEqual(config.bank.connections[0], {
      name: 'a',
      institution: null,
      provider: 'dropfolder',
      journal: 'BNK1',
      settings: {
        path: '/srv/in',
        archive: null,
        rejected: null,
        keep_files: false,
        format: 'auto',
      },
      credentials: {},
      schedule: { every: '12h', every_ms: 43_200_000 },
      history_days: 90,
      overlap_days: 7,
      include_pending: false,
      enabled: true,
    });
    const ofx = load(
      `bank:\n  connections:\n    - name: o\n      provider: ofx-direct\n      journal: J\n      settings: { url: "https://ofx.bank.example/", org: O, fid: "1", account_id: "9", account_type: CREDITCARD }\n      credentials: { username: { env: U }, password: { env: U } }\n${MINIMAL}`,
      { env: { U: 'u' } },
    );
    assert.deepEqual(ofx.bank.connections[0].settings, {
      url: 'https://ofx.bank.example/',
      org: 'O',
      fid: '1',
      account_id: '9',
      account_type: 'CREDITCARD',
      version: 102,
      app_id: 'QWIN',
      app_ver: '2700',
      client_uid: null,
      close_elements: false,
      language: 'ENG',
    });
  });

  it('accepts a CSV column mapping and fills its defaults', () => {
    const config = load(
      `bank:\n  connections:\n    - name: a\n      provider: dropfolder\n      journal: J\n      settings:\n        path: in\n        csv: { date: Buchungstag, date_format: DD.MM.YYYY, debit: 4, credit: 5, memo: [Verwendungszweck, 7], decimal: "," }\n${MINIMAL}`,
    );
    assert.deepEqual((config.bank.connections[0].settings as { csv?: unknown }).csv, {
      date: 'Buchungstag',
      date_format: 'DD.MM.YYYY',
      debit: 4,
      credit: 5,
      memo: ['Verwendungszweck', 7],
      decimal: ',',
      delimiter: 'auto',
      header: true,
      skip_rows: 0,
      skip_footer_rows: 0,
      encoding: 'auto',
      negate: false,
    });
  });

  it('gives a cron schedule as written', () => {
    const config = load(
      `bank:\n  connections:\n    - { name: a, provider: dropfolder, journal: J, settings: { path: in }, schedule: { cron: "0 6 * * 1-5" } }\n${MINIMAL}`,
    );
    assert.deepEqual(config.bank.connections[0].schedule, { cron: '0 6 * * 1-5' });
  });

  it('takes state_dir from $STATE_DIRECTORY (its first path) when the file has none, and the file wins over it', () => {
    assert.equal(
      load(MINIMAL, { env: { STATE_DIRECTORY: '/var/lib/booksync-a:/var/lib/booksync-b' } })
        .state_dir,
      '/var/lib/booksync-a',
    );
    assert.equal(
      load(`state_dir: /srv/books\n${MINIMAL}`, { env: { STATE_DIRECTORY: '/var/lib/other' } })
        .state_dir,
      '/srv/books',
    );
  });

  it('resolves relative paths against the config file folder', () => {
    const text = [
      'state_dir: ../var',
      'log: { file: logs/booksync.jsonl }',
      'bank:',
      '  connections:',
      '    - { name: a, provider: dropfolder, journal: J, settings: { path: inbox, archive: ../archive, rejected: /abs/rejected } }',
      MINIMAL,
    ].join('\n');
    const config = load(text, { env: {} }, '/opt/booksync/config/booksync.yaml');
    assert.equal(config.config_file, '/opt/booksync/config/booksync.yaml');
    assert.equal(config.state_dir, '/opt/booksync/var');
    assert.equal(config.log.file, '/opt/booksync/config/logs/booksync.jsonl');
    const settings = config.bank.connections[0].settings as {
      path: string;
      archive: string;
      rejected: string;
    };
    assert.deepEqual(
      [settings.path, settings.archive, settings.rejected],
      ['/opt/booksync/config/inbox', '/opt/booksync/archive', '/abs/rejected'],
    );
  });

  it('fills a type policy from sync.default, conflict and tie_breaker as a pair', () => {
    const text = [
      'sync:',
      '  default: { direction: pull, conflict: merge, tie_breaker: remote-wins }',
      '  types:',
      '    partner: { direction: both }',
      '    move: { conflict: manual }',
      '    account: { conflict: merge, tie_breaker: newest-wins, exclude: { push: [internal_notes], both: ["bank_accounts[].iban"] } }',
      MINIMAL,
    ].join('\n');
    const { types } = load(text).sync;
    assert.deepEqual(types.partner, {
      direction: 'both',
      conflict: 'merge',
      tie_breaker: 'remote-wins',
      exclude: { push: [], pull: [], both: [] },
    });
    assert.deepEqual(types.move, {
      direction: 'pull',
      conflict: 'manual',
      tie_breaker: null,
      exclude: { push: [], pull: [], both: [] },
    });
    assert.deepEqual(types.account, {
      direction: 'pull',
      conflict: 'merge',
      tie_breaker: 'newest-wins',
      exclude: { push: ['internal_notes'], pull: [], both: ['bank_accounts[].iban'] },
    });
    assert.deepEqual(types.invoice, {
      direction: 'pull',
      conflict: 'merge',
      tie_breaker: 'remote-wins',
      exclude: { push: [], pull: [], both: [] },
    });
  });

  it('fills a ledger mapping from its bank connection and the company, and converts tolerances to minor units', () => {
    const text = [
      'bank:',
      '  connections:',
      '    - { name: main, provider: dropfolder, journal: BNK1, settings: { path: in } }',
      'cloud: { url: embedded }',
      'ledger:',
      '  company: { name: Demo, currency: JPY }',
      '  connections:',
      '    main: { bank_account: "1010", suspense_account: "1099" }',
      '  reconcile:',
      '    rules: [{ kind: reference }, { kind: amount_window, tolerance: "50", days: 5, write_off: "6270" }, { kind: amount_window, days: 1 }]',
      '',
    ].join('\n');
    const { ledger } = load(text);
    assert.deepEqual(ledger.connections.main, {
      journal: 'BNK1',
      bank_account: '1010',
      suspense_account: '1099',
      currency: 'JPY',
    });
    assert.deepEqual(ledger.reconcile.rules, [
      { kind: 'reference' },
      { kind: 'amount_window', tolerance: '50', tolerance_minor: 50, days: 5, write_off: '6270' },
      { kind: 'amount_window', tolerance: '0.00', tolerance_minor: 0, days: 1, write_off: null },
    ]);
  });

  it('returns a deeply frozen object', () => {
    const config = load(
      `sync:\n  types:\n    partner: { direction: both, exclude: { push: [notes] } }\n${MINIMAL}`,
    );
    const frozen = (v: unknown): boolean =>
      v === null || typeof v !== 'object' || (Object.isFrozen(v) && Object.values(v).every(frozen));
    assert.ok(frozen(config));
    assert.throws(() => {
      (config.log as { level: string }).level = 'debug';
    }, TypeError);
    assert.throws(() => (config.sync.types.partner.exclude.push as string[]).push('x'), TypeError);
  });
});

describe('config: shipped files', () => {
  it('config/booksync.yaml (the quick start) loads with no environment at all', () => {
    const file = path.join(ROOT, 'config/booksync.yaml');
    const config = loadConfig(file, { env: {} });
    assert.equal(config.state_dir, path.join(ROOT, 'var'));
    assert.equal(config.log.level, 'info');
    assert.equal(config.cloud.url, 'embedded');
    assert.equal(config.local_api.enabled, false);
    assert.equal(config.sync.mode, 'live');
    assert.deepEqual(secretValues(config), []);
    const [demo] = config.bank.connections;
    assert.equal(config.bank.connections.length, 1);
    assert.equal(demo.name, 'demo');
    assert.equal(demo.provider, 'dropfolder');
    assert.deepEqual(demo.settings, {
      path: path.join(ROOT, 'demo/statements'),
      archive: path.join(ROOT, 'var/demo/archive'),
      rejected: path.join(ROOT, 'var/demo/rejected'),
      keep_files: true,
      format: 'auto',
    });
    assert.deepEqual(demo.schedule, { every: '1m', every_ms: 60_000 });
    assert.deepEqual(config.ledger.connections.demo, {
      journal: 'BNK1',
      bank_account: '1010',
      suspense_account: '1099',
      currency: 'EUR',
    });
  });

  it('config/booksync.example.yaml loads when its variables are set, and names each one that is not', () => {
    const file = path.join(ROOT, 'config/booksync.example.yaml');
    const env = {
      BOOKSYNC_LOCAL_PASSWORD: 'l',
      BOOKSYNC_CLOUD_PASSWORD: 'c',
      SIMPLEFIN_SETUP_TOKEN: 's',
    };
    const config = loadConfig(file, { env });
    assert.equal(config.bank.connections[0].name, 'main-checking');
    assert.equal(config.sync.types.partner.tie_breaker, 'remote-wins');
    assert.deepEqual(secretValues(config), ['c', 'l', 's']);
    const err = configError(() => loadConfig(file, { env: {} }));
    assert.deepEqual(
      err.issues.map((i) => i.path),
      ['local_api.password', 'cloud.auth.password', 'bank.connections[0].credentials.setup_token'],
    );
    assert.ok(err.issues.every((i) => /^environment variable \w+ is not set/.test(i.message)));
  });
});

describe('config: describeConfig and names', () => {
  it('summarises without secrets', () => {
    const config = load(
      `local_api: { enabled: true, host: 0.0.0.0, port: 6000, username: u, password: { env: P } }\ncloud: { url: "https://couch.example.com/books", auth: { username: u, password: { env: P } } }\nsync: { mode: interval }\nbank:\n  connections:\n    - { name: a, provider: dropfolder, journal: J, settings: { path: in } }\n    - { name: b, provider: dropfolder, journal: J, settings: { path: in }, enabled: false }\nledger: { company: { name: Demo, currency: EUR } }\n`,
      { env: { P: 'hunter2-secret' } },
    );
    const summary = describeConfig(config);
    assert.deepEqual(summary, {
      config_file: FILE,
      state_dir: '/var/lib/booksync',
      log_level: 'info',
      cloud_url: 'https://couch.example.com/books',
      sync_mode: 'interval',
      connections: 2,
      connections_enabled: 1,
      local_api: '0.0.0.0:6000',
    });
    assert.ok(!JSON.stringify(summary).includes('hunter2-secret'));
  });

  it('strips userinfo from the cloud URL of a config built by hand', () => {
    const config = load(MINIMAL);
    const handMade = {
      ...config,
      cloud: { ...config.cloud, url: 'https://admin:pw@couch.example.com/books' },
    } as Config;
    assert.equal(describeConfig(handMade).cloud_url, 'https://couch.example.com/books');
  });

  it('exports the strategy and provider names other modules register under', () => {
    assert.deepEqual(
      [...CONFLICT_STRATEGIES],
      ['local-wins', 'remote-wins', 'newest-wins', 'merge', 'manual'],
    );
    assert.deepEqual(
      [...BANK_PROVIDERS],
      ['dropfolder', 'ofx-direct', 'simplefin', 'gocardless', 'enablebanking'],
    );
  });
});
