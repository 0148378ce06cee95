import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { BooksyncMetrics } from '../../src/ops';
import { requirePrometheusBinary } from '../helpers/prometheus-binaries';

const RULES_DIR = path.resolve(__dirname, '../../../config/prometheus');
const RULES = path.join(RULES_DIR, 'booksync-alerts.yml');

function run(bin: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { cwd: RULES_DIR }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

describe('shipped Prometheus alert rules (config/prometheus)', function () {
  this.timeout(30_000);

  it('names only metrics booksync exports', async () => {
    const doc = parse(fs.readFileSync(RULES, 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
    };
    const exported = new Set(
      (await new BooksyncMetrics('test').registry.getMetricsAsJSON()).map((m) => m.name),
    );
    const rules = doc.groups.flatMap((g) => g.rules);
    assert.deepEqual(rules.map((r) => r.alert).sort(), [
      'BooksyncBalanceMismatch',
      'BooksyncBankAuthRequired',
      'BooksyncBankConsentExpiring',
      'BooksyncBankNoSuccess',
      'BooksyncConflictsStale',
      'BooksyncSyncOffline',
    ]);
    for (const rule of rules) {
      for (const name of rule.expr.match(/booksync_[a-z_]+/g) ?? [])
        assert.ok(exported.has(name), `${rule.alert} uses ${name}, which booksync does not export`);
    }
  });

  describe('promtool', () => {
    let promtool: string;
    before(function () {
      promtool = requirePrometheusBinary(this, 'promtool');
    });

    it('accepts the rules (promtool check rules)', async () => {
      const r = await run(promtool, ['check', 'rules', 'booksync-alerts.yml']);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /SUCCESS: 6 rules found/);
    });

    it('fires each alert exactly when its condition holds (promtool test rules)', async () => {
      const r = await run(promtool, ['test', 'rules', 'booksync-alerts.test.yml']);
      assert.equal(r.code, 0, r.out);
    });
  });
});
