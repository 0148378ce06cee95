import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { configSchema, schemaJson } from '../../src/config';
import { newAjv } from '../../src/config/load';
import { formatKeyPath, pointerToPath } from '../../src/shared/yaml-locate';
import { closest, levenshtein } from '../../src/config/suggest';

const ROOT = path.resolve(__dirname, '../../..');
type Schema = Record<string, unknown>;

/** Every property schema in the tree with its key path (`bank.connections[].settings.path`). */
function properties(schema: Schema, at = ''): { path: string; schema: Schema }[] {
  const out: { path: string; schema: Schema }[] = [];
  const visit = (s: unknown, p: string) => {
    if (s === null || typeof s !== 'object' || Array.isArray(s)) return;
    const node = s as Schema;
    for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Schema>)) {
      const here = p ? `${p}.${key}` : key;
      out.push({ path: here, schema: child });
      visit(child, here);
    }
    if (node.additionalProperties && typeof node.additionalProperties === 'object')
      visit(node.additionalProperties, `${p}.<name>`);
    if (node.items) visit(node.items, `${p}[]`);
    for (const k of ['oneOf', 'anyOf', 'allOf'])
      for (const branch of (node[k] ?? []) as Schema[]) visit(branch, p);
    for (const k of ['then', 'else']) visit(node[k], p);
  };
  visit(schema, at);
  return out;
}

describe('config schema', () => {
  it('config/booksync.schema.json is the generated schema (regenerate: node dist/scripts/gen-schema.js)', () => {
    const shipped = fs.readFileSync(path.join(ROOT, 'config/booksync.schema.json'), 'utf8');
    assert.ok(
      shipped === schemaJson(),
      'config/booksync.schema.json is stale: run node dist/scripts/gen-schema.js',
    );
  });

  it('gen-schema --check agrees', () => {
    execFileSync(process.execPath, [path.join(ROOT, 'dist/scripts/gen-schema.js'), '--check'], {
      stdio: 'pipe',
    });
  });

  it('is a valid draft-07 schema that ajv compiles in strict mode', () => {
    const ajv = newAjv({ validateSchema: true });
    assert.ok(ajv.validateSchema(configSchema), ajv.errorsText());
    ajv.compile(configSchema);
  });

  it('describes every property', () => {
    const all = properties(configSchema);
    assert.ok(all.length > 100, `only ${all.length} properties found`);
    const bare = all.filter(
      ({ schema }) => typeof schema.description !== 'string' || schema.description.length < 5,
    );
    assert.deepEqual(
      bare.map((p) => p.path),
      [],
    );
  });

  it('every default is valid against its own schema', () => {
    const ajv = newAjv();
    const withDefault = properties(configSchema).filter(({ schema }) => 'default' in schema);
    assert.ok(withDefault.length > 40, `only ${withDefault.length} defaults found`);
    for (const { path: p, schema } of withDefault) {
      const { default: value, ...rest } = schema;
      const validate = ajv.compile(rest);
      assert.ok(
        validate(structuredClone(value)),
        `${p}: default ${JSON.stringify(value)} is invalid: ${ajv.errorsText(validate.errors)}`,
      );
    }
  });

  it('closes every mapping: unknown keys are errors everywhere', () => {
    const open = properties(configSchema)
      .filter(({ schema }) => schema.type === 'object' && schema.additionalProperties === undefined)
      .map((p) => p.path);
    // settings and credentials are closed per provider (if provider = X then ...).
    assert.deepEqual(open, ['bank.connections[].settings', 'bank.connections[].credentials']);
  });
});

describe('config helpers', () => {
  it('suggests a known name within 2 edits or by prefix', () => {
    assert.equal(levenshtein('levle', 'level'), 2);
    assert.equal(closest('levle', ['level', 'file']), 'level');
    assert.equal(closest('request', ['request_timeout', 'connections']), 'request_timeout');
    assert.equal(closest('Level', ['level']), 'level');
    assert.equal(closest('zzz', ['level', 'file']), undefined);
  });

  it('writes key paths with dots and [index], quoting odd keys', () => {
    assert.equal(
      formatKeyPath(['bank', 'connections', 0, 'schedule', 'every']),
      'bank.connections[0].schedule.every',
    );
    assert.equal(formatKeyPath(['log', 'a key']), 'log["a key"]');
    assert.equal(formatKeyPath([]), '');
    assert.deepEqual(pointerToPath('/bank/connections/0/name', { bank: { connections: [{}] } }), [
      'bank',
      'connections',
      0,
      'name',
    ]);
    assert.deepEqual(
      pointerToPath('/ledger/connections/7', { ledger: { connections: { 7: {} } } }),
      ['ledger', 'connections', '7'],
    );
  });
});
