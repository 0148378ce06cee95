import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { parseCamt053 } from '../../src/bank/formats';
import { parseCamt053Stream } from '../../src/bank/formats/camt053';
import { Tokenizer, TokenizerError } from '../../src/bank/formats/tokenizer';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/statements');

/** Every token the tokenizer reports, with its line, text runs merged (a chunk may split them). */
function tokens(chunks: readonly string[]): string[] {
  const out: string[] = [];
  const tokenizer: Tokenizer = new Tokenizer({
    open: (name, attributes, selfClosing) =>
      out.push(
        `${tokenizer.line} <${name} ${JSON.stringify(attributes ?? {})}${selfClosing ? '/' : ''}>`,
      ),
    close: (name) => out.push(`${tokenizer.line} </${name}>`),
    text: (text) => {
      const last = out.length - 1;
      if (last >= 0 && out[last].startsWith('T ')) out[last] += text;
      else out.push(`T ${text}`);
    },
  });
  try {
    for (const chunk of chunks) tokenizer.write(chunk);
    tokenizer.end();
  } catch (err) {
    if (!(err instanceof TokenizerError)) throw err;
    out.push(`error at ${err.line}`);
  }
  return out;
}

/** `text` cut at the given offsets. */
function cut(text: string, offsets: readonly number[]): string[] {
  const at = [...new Set(offsets.map((o) => o % (text.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let from = 0;
  for (const o of at) {
    chunks.push(text.slice(from, o));
    from = o;
  }
  chunks.push(text.slice(from));
  return chunks;
}

const SAMPLE = [
  '<?xml version="1.0"?>\n<!DOCTYPE x [ <!ENTITY a "b"> ]>\n<Doc xmlns:c="urn:x">\n',
  '<c:A Ccy="EUR" note=\'a > b\'>12.50</c:A><!-- a comment with <tags> and > in it -->\n',
  '<B>AT&amp;T &#233;t&#xE9; &unknown; bare & sign</B><C/><D attr="1"\n other="2"/>\n',
  '<![CDATA[ raw <text> & ]]> tail text\n<E>Köln, Café</E></Doc>\n',
].join('');

describe('XML/SGML tokenizer', function () {
  it('property: however the input is cut into chunks, the tokens, their lines and the errors are those of the whole input', function () {
    fc.assert(
      fc.property(
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 0, max: SAMPLE.length }),
        (offsets, truncate) => {
          for (const text of [SAMPLE, SAMPLE.slice(0, truncate)]) {
            assert.deepEqual(tokens(cut(text, offsets)), tokens([text]));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('given one character at a time, then the tokens are those of the whole input', function () {
    assert.deepEqual(tokens([...SAMPLE]), tokens([SAMPLE]));
  });

  it('given a camt.053 file streamed in chunks of 1 to 97 bytes, then the statements equal the in-memory parse', async function () {
    for (const name of ['camt053-v02.xml', 'camt053-v08.xml']) {
      const bytes = readFileSync(path.join(FIXTURES, name));
      const whole = parseCamt053(bytes, { fileName: name });
      for (const size of [1, 7, 97]) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
        const streamed = await parseCamt053Stream(Readable.from(chunks), { fileName: name });
        assert.deepEqual(streamed.statements, whole.statements, `${name} in chunks of ${size}`);
        assert.deepEqual(streamed.warnings, whole.warnings, `${name} in chunks of ${size}`);
      }
    }
  });
});
