import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/daemon-process';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/statements');

/** Deterministic "random" bytes (a fixed-seed LCG), so the garbage file is the same every run. */
function garbage(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A one-line OFX 1.x statement whose single line carries `memo`. */
function ofxWithMemo(memo: string): string {
  return [
    'OFXHEADER:100',
    'DATA:OFXSGML',
    'VERSION:102',
    'ENCODING:USASCII',
    'CHARSET:1252',
    '',
    '<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>1<ACCTID>42<ACCTTYPE>CHECKING</BANKACCTFROM>',
    `<BANKTRANLIST><STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240105<TRNAMT>-1.00<FITID>M-1<NAME>SHOP<MEMO>${memo}</STMTTRN></BANKTRANLIST>`,
    '</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>',
    '',
  ].join('\r\n');
}

describe('booksync parse on bad paths and hostile files', function () {
  this.timeout(30_000);
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'booksync-parse-cli-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('given a missing file or a folder, then it exits 66 (EX_NOINPUT) with one line and no stack; with --json the problem is a JSON object', async () => {
    const missing = path.join(dir, 'nope.ofx');
    for (const [target, why] of [
      [missing, 'no such file'],
      [dir, 'is a folder, not a statement file'],
    ] as const) {
      const plain = await runCli(['parse', target]);
      assert.equal(plain.code, 66, plain.stderr);
      assert.equal(plain.stderr, `booksync parse: ${target}: ${why}\n`);
      assert.equal(plain.stdout, '');
      const asJson = await runCli(['parse', target, '--json']);
      assert.equal(asJson.code, 66);
      assert.equal(asJson.stderr, '');
      const body = JSON.parse(asJson.stdout) as { error: Record<string, unknown> };
      assert.deepEqual(Object.keys(body.error).sort(), ['code', 'file', 'line', 'message']);
      assert.equal(body.error.file, target);
      assert.equal(body.error.message, `${target}: ${why}`);
    }
  });

  it('given garbage bytes named .ofx, then it says the file is not OFX in one line without echoing a raw byte, exit 65; --json names code, file and line', async () => {
    const file = path.join(dir, 'statement.ofx');
    fs.writeFileSync(file, new Uint8Array(garbage(4096, 17)));
    fs.appendFileSync(file, '<x\u0001\u0002');
    fs.appendFileSync(file, new Uint8Array(garbage(4096, 99)));
    const plain = await runCli(['parse', file]);
    assert.equal(plain.code, 65, plain.stderr);
    assert.equal(
      plain.stderr,
      'booksync parse: statement.ofx:1: OFX: not an OFX file (no <OFX> element where the OFX body starts)\n',
    );
    const asJson = await runCli(['parse', file, '--json']);
    assert.equal(asJson.code, 65);
    const body = JSON.parse(asJson.stdout) as { error: Record<string, unknown> };
    assert.deepEqual(body.error, {
      code: 'BANK_MALFORMED_FILE',
      file,
      line: 1,
      message: 'statement.ofx:1: OFX: not an OFX file (no <OFX> element where the OFX body starts)',
    });
  });

  it('given a bad value holding control bytes, then the error quotes it with the bytes escaped and cut short', async () => {
    const file = path.join(dir, 'bad.ofx');
    fs.writeFileSync(
      file,
      ofxWithMemo('x').replace('<TRNAMT>-1.00', `<TRNAMT>12\u0007${'9'.repeat(5000)}`),
    );
    const res = await runCli(['parse', file]);
    assert.equal(res.code, 65);
    assert.ok(!res.stderr.includes('\u0007'), res.stderr);
    assert.match(res.stderr, /TRNAMT: '12\\x079+…/);
    assert.ok(res.stderr.length < 400, `${res.stderr.length} characters`);
  });

  it('given a 3 MB memo, then the line is read with its memo cut to 4096 characters and a warning naming the place: an object with its code in --json, one readable line in the text', async () => {
    const file = path.join(dir, 'big.ofx');
    fs.writeFileSync(file, ofxWithMemo('LOREM IPSUM '.repeat(262_144)));
    const res = await runCli(['parse', file, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const body = JSON.parse(res.stdout) as {
      statements: Array<{ transactions: Array<{ memo: string }> }>;
      warnings: unknown[];
    };
    assert.equal(body.statements[0].transactions[0].memo.length, 4096);
    assert.deepEqual(body.warnings, [
      {
        code: 'BANK_WARN_TEXT_CUT',
        message: 'memo of 3145727 characters cut to 4096',
        file: 'big.ofx',
        line: 8,
        statement: 0,
      },
    ]);
    const plain = await runCli(['parse', file]);
    assert.match(
      plain.stdout,
      /^warning: big\.ofx:8: memo of 3145727 characters cut to 4096 \[BANK_WARN_TEXT_CUT\]$/m,
    );
  });

  it('given CORRECTFITID REPLACE and DELETE lines, then the preview shows what the import stores: the replaced original is gone, and each correction is marked', async () => {
    const file = path.join(FIXTURES, 'quirk-correctfitid.ofx');
    const asJson = await runCli(['parse', file, '--json']);
    assert.equal(asJson.code, 0, asJson.stderr);
    const st = (
      JSON.parse(asJson.stdout) as {
        statements: Array<{
          transactions: Array<{ providerId: string; amount: number }>;
          corrections: unknown[];
        }>;
      }
    ).statements[0];
    assert.deepEqual(
      st.transactions.map((t) => [t.providerId, t.amount]),
      [['FIT-101', -5200]],
    );
    assert.deepEqual(st.corrections, [
      { target: 'FIT-100', action: 'REPLACE', by: 'FIT-101', inFeed: true },
      { target: 'FIT-099', action: 'DELETE', by: 'FIT-102', inFeed: false },
    ]);
    const plain = await runCli(['parse', file]);
    assert.match(
      plain.stdout,
      /corrected: FIT-100 replaced by FIT-101 \(the original in this file is not imported\)/,
    );
    assert.match(plain.stdout, /corrected: FIT-099 deleted by FIT-102 \(not in this file/);
    assert.doesNotMatch(plain.stdout, /FIT-100\s+HARDWARE/);
  });

  it('given an MT942 interim report, then parse names its format mt942, in the text and in --json; an MT940 statement stays mt940', async () => {
    const interim = path.join(FIXTURES, 'mt942-interim.sta');
    const asJson = await runCli(['parse', interim, '--json']);
    assert.equal(asJson.code, 0, asJson.stderr);
    assert.equal((JSON.parse(asJson.stdout) as { format: string }).format, 'mt942');
    const plain = await runCli(['parse', interim]);
    assert.match(plain.stdout, /^.*mt942-interim\.sta: mt942, 1 statement\(s\)\n/);
    const statement = await runCli([
      'parse',
      path.join(FIXTURES, 'mt940-sepa-slash-keywords.sta'),
      '--json',
    ]);
    assert.equal((JSON.parse(statement.stdout) as { format: string }).format, 'mt940');
  });
});
