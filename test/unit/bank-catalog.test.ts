import { strict as assert } from 'node:assert';
import {
  InstitutionCatalog,
  InstitutionError,
  isValidBic,
  isValidIban,
  searchInstitutions,
  shippedCatalog,
  validateCustomInstitution,
} from '../../src/bank/catalog';
import { ProviderRegistry, UnknownProviderError } from '../../src/bank/registry';
import { connectionSpecFrom } from '../../src/bank/fetch-loop';
import { institutionLabel } from '../../src/bank/catalog';
import { builtinProviders } from '../../src/bank/providers';
import { FakeProvider } from '../helpers/fake-provider';

describe('bank institutions catalog', function () {
  it('given the shipped catalog, then it loads, has the demo bank, the SimpleFIN Bridge and OFX endpoints with org, fid and https url', function () {
    const catalog = shippedCatalog();
    assert.ok(catalog.institutions.length >= 20);
    assert.deepEqual(catalog.get('demo-bank')?.providers, ['dropfolder']);
    assert.deepEqual(catalog.get('simplefin-bridge')?.providers, ['simplefin']);
    const chase = catalog.get('chase');
    assert.deepEqual(
      [chase?.ofx?.org, chase?.ofx?.fid, chase?.ofx?.url],
      ['B1', '10898', 'https://ofx.chase.com'],
    );
    const withOfx = catalog.institutions.filter((i) => i.ofx);
    assert.ok(withOfx.length >= 8);
    for (const i of withOfx) assert.match(i.ofx?.url ?? '', /^https:\/\//);
    assert.ok(catalog.institutions.filter((i) => i.gocardless).length >= 5);
  });

  it('given a search, then it matches id, name, BIC and country case-insensitively, every word counting', function () {
    assert.deepEqual(
      searchInstitutions('CHASE').map((i) => i.id),
      ['chase'],
    );
    assert.deepEqual(
      searchInstitutions('cobadeff').map((i) => i.id),
      ['commerzbank'],
    );
    assert.ok(
      searchInstitutions('be').some((i) => i.id === 'kbc'),
      'country BE',
    );
    assert.deepEqual(
      searchInstitutions('ing diba').map((i) => i.id),
      ['ing-de'],
    );
    assert.equal(searchInstitutions('').length, shippedCatalog().institutions.length);
    assert.deepEqual(searchInstitutions('no such bank anywhere'), []);
  });

  it('given an unknown id, then resolve suggests close entries and the inline form', function () {
    assert.throws(
      () => shippedCatalog().resolve('chase-bank'),
      (err: unknown) =>
        err instanceof InstitutionError &&
        err.code === 'BANK_INSTITUTION_UNKNOWN' &&
        /did you mean chase/.test(err.message) &&
        /inline/.test(err.message),
    );
    assert.equal(shippedCatalog().resolve('revolut').id, 'revolut');
  });

  it('given IBANs, then the mod-97 check and registry length decide', function () {
    assert.equal(isValidIban('DE89 3704 0044 0532 0130 00'), true);
    assert.equal(isValidIban('GB82WEST12345698765432'), true);
    assert.equal(isValidIban('FR1420041010050500013M02606'), true);
    assert.equal(isValidIban('DE89370400440532013001'), false, 'check digits');
    assert.equal(isValidIban('DE8937040044053201300'), false, 'length');
    assert.equal(isValidIban('not an iban'), false);
    assert.equal(isValidBic('DEUTDEFFXXX'), true);
    assert.equal(isValidBic('DEUTDEFF'), true);
    assert.equal(isValidBic('DEUT12FF'), false);
  });

  it('given a custom bank, then it is validated field by field and gets a custom: id', function () {
    const resolved = shippedCatalog().resolve({
      name: 'Example Bank',
      bic: 'examdeffxxx',
      account: 'DE89 3704 0044 0532 0130 00',
      currency: 'eur',
    });
    assert.equal(resolved.kind, 'custom');
    assert.equal(resolved.id, 'custom:EXAMDEFFXXX');
    assert.deepEqual(resolved.institution, {
      name: 'Example Bank',
      bic: 'EXAMDEFFXXX',
      account: 'DE89370400440532013000',
      iban: true,
      currency: 'EUR',
    });
    assert.deepEqual(
      validateCustomInstitution({ name: 'Credit Union', account: '0012-345678', currency: 'USD' }),
      { name: 'Credit Union', account: '0012-345678', iban: false, currency: 'USD' },
    );
    const bad = (input: unknown, pattern: RegExp) =>
      assert.throws(
        () => validateCustomInstitution(input, 'bank.connections[0].institution'),
        (err: unknown) => err instanceof InstitutionError && pattern.test(err.message),
      );
    bad(
      { name: 'X', account: 'DE89370400440532013001', currency: 'EUR' },
      /connections\[0\]\.institution\.account: .*not a valid IBAN/,
    );
    bad(
      { name: 'X', account: '123456', currency: 'EUROS' },
      /currency: 'EUROS' is not an ISO 4217/,
    );
    bad({ name: 'X', bic: 'NOPE', account: '123456', currency: 'EUR' }, /bic: 'NOPE' is not a BIC/);
    bad({ account: '123456', currency: 'EUR' }, /name: the bank name is required/);
    bad({ name: 'X', account: '123456', currency: 'EUR', colour: 'red' }, /colour: unknown field/);
  });

  it('given a malformed catalog, then loading names the entry and the problem', function () {
    assert.throws(
      () =>
        InstitutionCatalog.parse(
          'institutions:\n  - { id: a, name: A, country: DE, providers: [fax] }\n',
        ),
      /institutions\[0\]: a: unknown provider 'fax'/,
    );
    assert.throws(
      () =>
        InstitutionCatalog.parse(
          'institutions:\n  - { id: a, name: A, country: DE, providers: [dropfolder], source: s }\n  - { id: a, name: B, country: DE, providers: [dropfolder], source: s }\n',
        ),
      /duplicate id 'a'/,
    );
    assert.throws(
      () =>
        InstitutionCatalog.parse(
          'institutions:\n  - { id: a, name: A, country: DE, providers: [dropfolder], ofx: { org: X, fid: 1, url: "http://x" } }\n',
        ),
      /https url/,
    );
    assert.throws(
      () =>
        InstitutionCatalog.parse(
          'institutions:\n  - { id: a, name: A, country: DE, providers: [dropfolder] }\n',
        ),
      /institutions\[0\]: a: source is required/,
    );
  });

  it('given the shipped catalog, then every entry names its public source, and every OFX endpoint without one is marked unverified', function () {
    const all = InstitutionCatalog.load().search('');
    for (const i of all) assert.ok(i.source.length > 0, i.id);
    const unsourced = all.filter((i) => i.source === 'none found');
    assert.ok(unsourced.length > 0);
    for (const i of unsourced) assert.match(i.unverified ?? '', /OFX endpoint from memory/, i.id);
    assert.equal(
      all.find((i) => i.id === 'chase')?.unverified,
      undefined,
      'chase is sourced from ofxtools fi.cfg',
    );
    assert.ok(all.find((i) => i.id === 'bank-of-america')?.unverified);
  });
});

describe('bank provider registry', function () {
  it('given an unknown id, then the error lists the known ids', function () {
    const registry = new ProviderRegistry([new FakeProvider('b'), new FakeProvider('a')]);
    assert.deepEqual(registry.ids(), ['a', 'b']);
    assert.throws(
      () => registry.get('zzz'),
      (err: unknown) =>
        err instanceof UnknownProviderError &&
        err.code === 'BANK_PROVIDER_UNKNOWN' &&
        /unknown bank provider 'zzz' \(known: a, b\)/.test(err.message),
    );
  });

  it('given two providers with one id, then construction fails; with() replaces by id', function () {
    assert.throws(
      () => new ProviderRegistry([new FakeProvider('x'), new FakeProvider('x')]),
      /share the id 'x'/,
    );
    const replacement = new FakeProvider('a');
    const registry = new ProviderRegistry([new FakeProvider('a')]).with(replacement);
    assert.equal(registry.get('a'), replacement);
  });

  it('given the builtin providers, then each has a distinct id that the catalog knows', function () {
    const registry = new ProviderRegistry(builtinProviders);
    assert.ok(registry.ids().length >= 1);
    for (const id of registry.ids())
      assert.ok(
        ['dropfolder', 'ofx-direct', 'simplefin', 'gocardless', 'enablebanking'].includes(id),
        id,
      );
  });
});

describe('bank connection specs from the config', function () {
  it('given a Config connection, then the spec carries resolved secrets, days, schedule, timezone and an institution label', function () {
    const spec = connectionSpecFrom(
      {
        name: 'main',
        provider: 'simplefin',
        institution: 'simplefin-bridge',
        settings: { timezone: 'America/Chicago' },
        credentials: { setup_token: 'tok' },
        journal: 'BNK1',
        schedule: { every: '4h' },
        history_days: 60,
        overlap_days: 5,
        include_pending: true,
        enabled: true,
      },
      { stateDir: '/var/lib/booksync/bank/main', requestTimeoutMs: 30_000 },
    );
    assert.deepEqual(spec, {
      name: 'main',
      provider: 'simplefin',
      institution: 'simplefin-bridge',
      settings: { timezone: 'America/Chicago' },
      secrets: { setup_token: 'tok' },
      journal: 'BNK1',
      schedule: { every: '4h' },
      historyDays: 60,
      overlapDays: 5,
      includePending: true,
      enabled: true,
      requestTimeoutMs: 30_000,
      stateDir: '/var/lib/booksync/bank/main',
      timezone: 'America/Chicago',
    });
    assert.equal(institutionLabel({ name: 'Example Bank', bic: 'examdeff' }), 'custom:EXAMDEFF');
    assert.equal(
      institutionLabel({ name: 'Caisse d’Épargne Locale' }),
      'custom:caisse-d-pargne-locale',
    );
    assert.equal(institutionLabel(null), 'unspecified');
  });
});
