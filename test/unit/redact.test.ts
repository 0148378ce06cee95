import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  REDACTED,
  redactText,
  redactValue,
  remoteExcerpt,
  safeErrorSummary,
} from '../../src/shared/redact';
import { secretEncodings } from '../helpers/secret-encodings';

/** A secret with every character an encoding treats specially. */
const NASTY = `p&<w"d'>x%+ é/\\ü😀`;

describe('shared/redact: one redaction for every encoding of every secret', () => {
  for (const [name, form] of Object.entries(secretEncodings(NASTY))) {
    it(`masks the secret ${name}-encoded inside surrounding text`, () => {
      const text = `server said: <MESSAGE>bad login ${form}; try again</MESSAGE>`;
      const out = redactText(text, [NASTY]);
      assert.ok(!out.includes(form), out);
      assert.ok(out.includes(REDACTED), out);
      assert.match(out, /^server said: <MESSAGE>bad login /);
      assert.match(out, /; try again<\/MESSAGE>$/);
    });
  }

  it('masks base64 of a whole request body that carries the secret, even glued to a word', () => {
    const body = Buffer.from(`{"name":"booksync","password":${JSON.stringify(NASTY)}}`).toString(
      'base64',
    );
    assert.equal(redactText(`echo=${body} end`, [NASTY]), `echo=${REDACTED} end`);
    assert.ok(!redactText(`x${body}`, [NASTY]).includes(body.slice(8, 40)));
  });

  it('masks Authorization header values, Bearer tokens and session cookies whatever they hold', () => {
    assert.equal(
      redactText('Authorization: Basic dXNlcjpwYXNz', []),
      `Authorization: Basic ${REDACTED}`,
    );
    assert.equal(
      redactText('{"authorization":"Bearer abc"}', []),
      `{"authorization":"Bearer ${REDACTED}"}`,
    );
    assert.equal(
      redactText('sent Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.x', []),
      `sent Bearer ${REDACTED}`,
    );
    assert.equal(
      redactText('Cookie: AuthSession=Ym9va3N5bmM6NjU; Path=/', []),
      `Cookie: AuthSession=${REDACTED}; Path=/`,
    );
    assert.equal(
      redactText(`basic header Basic ${Buffer.from('u:p').toString('base64')}`, []),
      `basic header Basic ${REDACTED}`,
    );
    assert.deepEqual(
      redactValue({ headers: { Authorization: 'anything', accept: 'application/json' } }, []),
      { headers: { Authorization: REDACTED, accept: 'application/json' } },
    );
  });

  it('leaves ordinary text alone', () => {
    const text =
      'Basic authentication failed for https://bank.example/ofx (HTTP 401); Bearer token expired';
    assert.equal(redactText(text, ['hunter2-secret']), text);
  });

  it('masks overlapping secrets whole, and a secret inside another', () => {
    assert.equal(
      redactText('a-long-secret and long', ['long', 'a-long-secret']),
      `${REDACTED} and ${REDACTED}`,
    );
  });

  it('remoteExcerpt redacts before it cuts, so no part of a secret survives the cut', () => {
    const secret = 'Zq81-secret-Kp07';
    const text = `${'x'.repeat(95)}${encodeURIComponent(secret)}\n\n more`;
    const out = remoteExcerpt(text, [secret], 100);
    assert.equal(out.length, 100);
    assert.ok(!out.includes('Zq8'), out);
    assert.equal(
      safeErrorSummary({ code: 'X', message: `bad ${secret}` }, [secret]).message,
      `bad ${REDACTED}`,
    );
  });

  it('masks any secret in any encoding (property, fixed seed)', () => {
    const alphabet = fc.constantFrom(...'aZ9&<>"\'%+ /\\é😀:=.-_'.split(/(?:)/u));
    fc.assert(
      fc.property(
        fc.array(alphabet, { minLength: 6, maxLength: 24 }).map((a) => a.join('')),
        fc.constantFrom(...Object.keys(secretEncodings('x'))),
        (secret, kind) => {
          const form = secretEncodings(secret)[kind];
          const out = redactText(`before ${form} after`, [secret]);
          return !out.includes(form) && out.startsWith('before ') && out.endsWith(' after');
        },
      ),
      { seed: 20_2026, numRuns: 400 },
    );
  });
});
