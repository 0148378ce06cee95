import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BANK_ERROR_CODES, type BankCodeOf } from './error-codes';
import { BooksyncError, codesRaisedAs, type BooksyncErrorOptions } from '../shared/errors';
import { currencyCode } from '../shared/money';
import { valueText } from '../shared/text';

/**
 * The institutions catalog (config/institutions.yaml) and custom banks given inline in
 * booksync.yaml. A connection names its bank either by catalog id (`institution: chase`) or as
 * `{ name, bic?, account, currency }` — the "create it" case for a bank the catalog lacks.
 */

/** Raised for an unknown catalog id, a malformed catalog, or an invalid custom bank. */
export class InstitutionError extends BooksyncError {
  static readonly codes = codesRaisedAs(BANK_ERROR_CODES, 'InstitutionError');
  declare readonly code: BankCodeOf<'InstitutionError'>;

  constructor(
    code: BankCodeOf<'InstitutionError'>,
    message: string,
    options: BooksyncErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

export const PROVIDER_IDS_IN_CATALOG = [
  'dropfolder',
  'ofx-direct',
  'simplefin',
  'gocardless',
  'enablebanking',
] as const;

/** An OFX Direct Connect endpoint as banks publish it to OFX clients. */
export interface OfxEndpoint {
  org: string;
  fid: string;
  url: string;
  /** ABA routing number, for bank (not card) statements. */
  bankid?: string;
  /** Highest OFX version known to work (102, 103, 151, 160, 200 ... 220). */
  version?: number;
}

export interface Institution {
  id: string;
  name: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  bic?: string;
  /** Provider ids that reach this bank. */
  providers: readonly string[];
  ofx?: OfxEndpoint;
  gocardless?: { institution_id: string };
  /** Enable Banking's name and country of the bank (ASPSP), as GET /aspsps lists it. */
  enablebanking?: { aspsp: string; country: string };
  simplefin?: { url: string };
  notes?: string;
  /** The public source of the entry's endpoint and ids (a URL or a named public file). */
  source: string;
  /** What of the entry no public source confirms; such an entry is listed as unverified. */
  unverified?: string;
}

/** A bank given inline in booksync.yaml, validated. */
export interface CustomInstitution {
  name: string;
  bic?: string;
  /** IBAN (validated with the ISO 13616 mod-97 check) or a domestic account number. */
  account: string;
  /** True when `account` is an IBAN. */
  iban: boolean;
  currency: string;
}

/** What a connection's `institution:` resolves to. */
export type ResolvedInstitution =
  | { kind: 'catalog'; id: string; institution: Institution }
  | { kind: 'custom'; id: string; institution: CustomInstitution };

const BIC = /^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/;
const COUNTRY = /^[A-Z]{2}$/;
const CATALOG_ID = /^[a-z0-9][a-z0-9-]*$/;

/** IBAN lengths by country (SWIFT IBAN registry) for the countries booksync users are likely in. */
const IBAN_LENGTH: Readonly<Record<string, number>> = {
  AD: 24,
  AT: 20,
  BE: 16,
  BG: 22,
  CH: 21,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  EE: 20,
  ES: 24,
  FI: 18,
  FR: 27,
  GB: 22,
  GR: 27,
  HR: 21,
  HU: 28,
  IE: 22,
  IS: 26,
  IT: 27,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MT: 31,
  NL: 18,
  NO: 15,
  PL: 28,
  PT: 25,
  RO: 24,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
};

/** Removes spaces and upper-cases: `de89 3704 ...` → `DE893704...`. */
export function normaliseIban(text: string): string {
  return String(text ?? '')
    .replace(/[\s-]/g, '')
    .toUpperCase();
}

/** True when `text` looks like an IBAN (two letters, two check digits, then letters/digits). */
export function looksLikeIban(text: string): boolean {
  return /^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$/.test(normaliseIban(text));
}

/**
 * ISO 13616 check: move the first four characters to the end, letters become 10..35, and the
 * number modulo 97 must be 1. Also checks the registry length where the country is known.
 */
export function isValidIban(text: string): boolean {
  const iban = normaliseIban(text);
  if (!looksLikeIban(iban)) return false;
  const expected = IBAN_LENGTH[iban.slice(0, 2)];
  if (expected !== undefined && iban.length !== expected) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const value = ch >= 'A' ? ch.charCodeAt(0) - 55 : ch.charCodeAt(0) - 48;
    remainder = value >= 10 ? (remainder * 100 + value) % 97 : (remainder * 10 + value) % 97;
  }
  return remainder === 1;
}

export function isValidBic(text: string): boolean {
  return BIC.test(
    String(text ?? '')
      .trim()
      .toUpperCase(),
  );
}

/**
 * Validates an inline bank (`{ name, bic?, account, currency }`), throwing an InstitutionError
 * that names the field and the fix. `where` prefixes messages (e.g. `bank.connections[0].institution`).
 */
export function validateCustomInstitution(
  input: unknown,
  where = 'institution',
): CustomInstitution {
  const fail = (field: string, message: string): never => {
    throw new InstitutionError('BANK_INSTITUTION_INVALID', `${where}.${field}: ${message}`, {
      details: { field: `${where}.${field}` },
    });
  };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InstitutionError(
      'BANK_INSTITUTION_INVALID',
      `${where}: expected a catalog id or { name, bic, account, currency }`,
    );
  }
  const raw = input as Record<string, unknown>;
  const known = new Set(['name', 'bic', 'account', 'iban', 'currency']);
  for (const key of Object.keys(raw))
    if (!known.has(key)) fail(key, `unknown field (allowed: ${[...known].join(', ')})`);
  const name = typeof raw.name === 'string' ? raw.name.trim() : '';
  if (!name) fail('name', 'the bank name is required');
  let bic: string | undefined;
  if (raw.bic !== undefined) {
    bic = valueText(raw.bic).trim().toUpperCase();
    if (!isValidBic(bic))
      fail(
        'bic',
        `'${valueText(raw.bic)}' is not a BIC (8 or 11 characters: bank, country, location, branch)`,
      );
  }
  const accountRaw = raw.account ?? raw.iban;
  const accountField = raw.account !== undefined ? 'account' : 'iban';
  if (typeof accountRaw !== 'string' || accountRaw.trim() === '')
    fail('account', 'the account number or IBAN is required');
  const accountText = String(accountRaw).trim();
  let account: string;
  let iban = false;
  if (looksLikeIban(accountText) || raw.iban !== undefined) {
    account = normaliseIban(accountText);
    if (!isValidIban(account))
      fail(
        accountField,
        `'${accountText}' is not a valid IBAN (the mod-97 check digits or the length do not match)`,
      );
    iban = true;
  } else {
    if (!/^[0-9A-Za-z][0-9A-Za-z ./-]{2,40}$/.test(accountText))
      fail('account', `'${accountText}' is neither an IBAN nor an account number`);
    account = accountText;
  }
  let currency = '';
  try {
    currency = currencyCode(valueText(raw.currency ?? ''));
  } catch {
    fail(
      'currency',
      `'${valueText(raw.currency ?? '')}' is not an ISO 4217 currency code (EUR, USD, GBP ...)`,
    );
  }
  return Object.freeze({ name, ...(bic ? { bic } : {}), account, iban, currency });
}

/** The shipped catalog next to the package: `<package>/config/institutions.yaml`. */
export function defaultCatalogPath(): string {
  // dist/src/bank/catalog.js → package root is three folders up (src/bank/catalog.ts: two).
  const candidates = [
    path.resolve(__dirname, '../../../config/institutions.yaml'),
    path.resolve(__dirname, '../../config/institutions.yaml'),
  ];
  return candidates.find((candidate) => existsSync(candidate)) ?? candidates[0];
}

export class InstitutionCatalog {
  private readonly byId: ReadonlyMap<string, Institution>;

  private constructor(readonly institutions: readonly Institution[]) {
    this.byId = new Map(institutions.map((i) => [i.id, i]));
  }

  /** Reads and validates a catalog file (default: the shipped one). */
  static load(file: string = defaultCatalogPath()): InstitutionCatalog {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new InstitutionError(
        'BANK_CATALOG_UNREADABLE',
        `cannot read the institutions catalog ${file}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return InstitutionCatalog.parse(text, file);
  }

  /** Parses and validates catalog YAML; every problem names the entry and field. */
  static parse(text: string, source = 'institutions.yaml'): InstitutionCatalog {
    let data: unknown;
    try {
      data = parseYaml(text);
    } catch (err) {
      throw new InstitutionError(
        'BANK_CATALOG_INVALID',
        `${source}: not valid YAML: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const list = (data as { institutions?: unknown } | null)?.institutions;
    if (!Array.isArray(list))
      throw new InstitutionError(
        'BANK_CATALOG_INVALID',
        `${source}: expected a top-level 'institutions:' list`,
      );
    const seen = new Set<string>();
    const out = list.map((entry, index) => {
      const where = `${source}: institutions[${index}]`;
      const fail = (message: string): never => {
        throw new InstitutionError('BANK_CATALOG_INVALID', `${where}: ${message}`);
      };
      if (typeof entry !== 'object' || entry === null) fail('expected a mapping');
      const e = entry as Record<string, unknown>;
      const id = valueText(e.id ?? '');
      if (!CATALOG_ID.test(id)) fail(`id '${id}' must be lower-case letters, digits and dashes`);
      if (seen.has(id)) fail(`duplicate id '${id}'`);
      seen.add(id);
      if (typeof e.name !== 'string' || !e.name.trim()) fail(`${id}: name is required`);
      const country = valueText(e.country ?? '');
      if (!COUNTRY.test(country))
        fail(`${id}: country '${country}' must be an ISO 3166 alpha-2 code`);
      if (e.bic !== undefined && !isValidBic(valueText(e.bic)))
        fail(`${id}: bic '${valueText(e.bic)}' is not a BIC`);
      const providers = e.providers;
      if (!Array.isArray(providers) || providers.length === 0)
        fail(`${id}: providers must list at least one provider`);
      for (const p of providers as unknown[]) {
        if (!(PROVIDER_IDS_IN_CATALOG as readonly unknown[]).includes(p))
          fail(
            `${id}: unknown provider '${String(p)}' (known: ${PROVIDER_IDS_IN_CATALOG.join(', ')})`,
          );
      }
      let ofx: OfxEndpoint | undefined;
      if (e.ofx !== undefined) {
        const o = e.ofx as Record<string, unknown>;
        if (
          typeof o.org !== 'string' ||
          o.fid === undefined ||
          typeof o.url !== 'string' ||
          !/^https:\/\//.test(o.url)
        ) {
          fail(`${id}: ofx needs org, fid and an https url`);
        }
        ofx = {
          org: String(o.org),
          fid: String(o.fid),
          url: String(o.url),
          ...(o.bankid !== undefined ? { bankid: valueText(o.bankid) } : {}),
          ...(o.version !== undefined ? { version: Number(o.version) } : {}),
        };
        if (!(providers as unknown[]).includes('ofx-direct'))
          fail(`${id}: has an ofx endpoint but does not list the ofx-direct provider`);
      }
      let gocardless: { institution_id: string } | undefined;
      if (e.gocardless !== undefined) {
        const g = e.gocardless as Record<string, unknown>;
        if (typeof g.institution_id !== 'string' || !/^[A-Z0-9_]+$/.test(g.institution_id))
          fail(`${id}: gocardless.institution_id must be an upper-case GoCardless id`);
        gocardless = { institution_id: String(g.institution_id) };
      }
      let enablebanking: { aspsp: string; country: string } | undefined;
      if (e.enablebanking !== undefined) {
        const g = e.enablebanking as Record<string, unknown>;
        if (typeof g.aspsp !== 'string' || !g.aspsp.trim() || typeof g.country !== 'string')
          fail(`${id}: enablebanking needs aspsp (the bank's name in GET /aspsps) and country`);
        enablebanking = { aspsp: String(g.aspsp).trim(), country: String(g.country).toUpperCase() };
      }
      const simplefin =
        e.simplefin !== undefined
          ? { url: valueText((e.simplefin as Record<string, unknown>).url ?? '') }
          : undefined;
      if (typeof e.source !== 'string' || !e.source.trim())
        fail(`${id}: source is required (the public source of its endpoint and ids)`);
      if (e.unverified !== undefined && (typeof e.unverified !== 'string' || !e.unverified.trim()))
        fail(`${id}: unverified must say what no source confirms`);
      const institution: Institution = {
        id,
        name: String(e.name).trim(),
        country,
        ...(e.bic !== undefined ? { bic: valueText(e.bic).toUpperCase() } : {}),
        providers: Object.freeze([...(providers as string[])]),
        ...(ofx ? { ofx: Object.freeze(ofx) } : {}),
        ...(gocardless ? { gocardless: Object.freeze(gocardless) } : {}),
        ...(enablebanking ? { enablebanking: Object.freeze(enablebanking) } : {}),
        ...(simplefin ? { simplefin: Object.freeze(simplefin) } : {}),
        ...(typeof e.notes === 'string' ? { notes: e.notes } : {}),
        source: String(e.source).trim(),
        ...(typeof e.unverified === 'string' ? { unverified: e.unverified.trim() } : {}),
      };
      return Object.freeze(institution);
    });
    return new InstitutionCatalog(Object.freeze(out));
  }

  get(id: string): Institution | undefined {
    return this.byId.get(id);
  }

  /**
   * Case-insensitive search over id, name, BIC and country; every word of the query must match
   * one of them. An empty query lists everything. Results keep catalog order.
   */
  search(query = ''): Institution[] {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (words.length === 0) return [...this.institutions];
    return this.institutions.filter((i) => {
      const hay = [i.id, i.name, i.bic ?? '', i.country, i.gocardless?.institution_id ?? ''].map(
        (s) => s.toLowerCase(),
      );
      return words.every((w) => hay.some((h) => h.includes(w)));
    });
  }

  /**
   * Resolves a connection's `institution:` value: a catalog id, or an inline custom bank.
   * A custom bank's id is `custom:<BIC or name>` so status documents show where it came from.
   */
  resolve(ref: unknown, where = 'institution'): ResolvedInstitution {
    if (typeof ref === 'string') {
      const institution = this.byId.get(ref);
      if (!institution) {
        const near = this.search(ref.split(/[-_\s]/)[0] ?? '')
          .slice(0, 5)
          .map((i) => i.id);
        throw new InstitutionError(
          'BANK_INSTITUTION_UNKNOWN',
          `${where}: '${ref}' is not in the institutions catalog${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}; ` +
            'run `booksync institutions SEARCH`, or give the bank inline as { name, bic, account, currency }',
          { details: { institution: ref } },
        );
      }
      return { kind: 'catalog', id: institution.id, institution };
    }
    const custom = validateCustomInstitution(ref, where);
    const slug =
      custom.bic ??
      custom.name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '');
    return { kind: 'custom', id: `custom:${slug}`, institution: custom };
  }
}

/**
 * The institution label a connection's status shows, without validating a custom bank (the config
 * schema did): a catalog id as is, a custom bank as `custom:<BIC or name>`, none as `unspecified`.
 */
export function institutionLabel(
  ref: string | { name?: unknown; bic?: unknown } | null | undefined,
): string {
  if (typeof ref === 'string') return ref;
  if (!ref) return 'unspecified';
  if (typeof ref.bic === 'string' && ref.bic.trim())
    return `custom:${ref.bic.trim().toUpperCase()}`;
  const slug = valueText(ref.name ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return `custom:${slug || 'bank'}`;
}

let shipped: InstitutionCatalog | undefined;

/** The shipped catalog, loaded once. */
export function shippedCatalog(): InstitutionCatalog {
  shipped ??= InstitutionCatalog.load();
  return shipped;
}

/** `booksync institutions [SEARCH]`: searches the shipped catalog (or `catalog`). */
export function searchInstitutions(
  query = '',
  catalog: InstitutionCatalog = shippedCatalog(),
): Institution[] {
  return catalog.search(query);
}
