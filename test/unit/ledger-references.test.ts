import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  belgianCheck,
  findStructuredReferences,
  isValidBelgian,
  isValidRf,
  makeBelgian,
  makeRf,
  mentionsInvoiceNumber,
  mod97,
  parseStructuredReference,
  withoutStructuredReferences,
} from '../../src/ledger/automation/references';

describe('ledger references: structured payment references with verified check digits', () => {
  describe('mod 97', () => {
    it('computes the remainder of long digit strings exactly', () => {
      assert.equal(mod97('0'), 0);
      assert.equal(mod97('97'), 0);
      assert.equal(mod97('98'), 1);
      // IBAN check: BE71 0961 2345 6769 rearranged is ≡ 1 mod 97.
      assert.equal(mod97('096123456769111471'), 1);
      fc.assert(
        fc.property(
          fc.bigInt({ min: 0n, max: 10n ** 40n }),
          (n) => mod97(n.toString()) === Number(n % 97n),
        ),
      );
    });
  });

  describe('ISO 11649 RF creditor references', () => {
    it('accepts the standard example with or without spaces, any case', () => {
      assert.equal(isValidRf('RF18 5390 0754 7034'), true);
      assert.equal(isValidRf('RF18539007547034'), true);
      assert.equal(isValidRf('rf18 5390 0754 7034'), true);
    });

    it('rejects a wrong check digit, a changed body digit and malformed text', () => {
      assert.equal(isValidRf('RF19 5390 0754 7034'), false);
      assert.equal(isValidRf('RF18 5390 0754 7035'), false);
      assert.equal(isValidRf('RF18'), false);
      assert.equal(isValidRf('RF1A 5390'), false);
      assert.equal(isValidRf(`RF18${'1'.repeat(22)}`), false);
    });

    it('makes references that validate, and any single substituted character breaks them', () => {
      assert.equal(makeRf('539007547034'), 'RF18539007547034');
      fc.assert(
        fc.property(
          fc.stringMatching(/^[0-9A-Z]{1,21}$/),
          fc.nat(),
          fc.nat(35),
          (body, pos, delta) => {
            const ref = makeRf(body);
            if (!isValidRf(ref)) return false;
            const i = 2 + (pos % (ref.length - 2));
            // A digit becomes another digit, a letter another letter (a letter counts as two digits in
            // MOD 97-10, so trading one for a digit shifts every position: not a single substitution).
            const pool = /\d/.test(ref[i]) ? '0123456789' : 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
            const old = ref[i];
            const next = pool[(pool.indexOf(old) + 1 + (delta % (pool.length - 1))) % pool.length];
            if (next === old) return true;
            return !isValidRf(ref.slice(0, i) + next + ref.slice(i + 1));
          },
        ),
      );
    });
  });

  describe('Belgian structured communication', () => {
    it('accepts +++ and *** forms and computes mod 97 of the first ten digits, 97 when 0', () => {
      assert.equal(isValidBelgian('+++123/4567/89002+++'), true);
      assert.equal(isValidBelgian('***123/4567/89002***'), true);
      assert.equal(isValidBelgian('123456789002'), true);
      assert.equal(belgianCheck('0000000097'), '97');
      assert.equal(makeBelgian('0000000097'), '+++000/0000/09797+++');
      assert.equal(isValidBelgian('+++000/0000/09700+++'), false);
    });

    it('rejects a wrong check digit', () => {
      assert.equal(isValidBelgian('+++123/4567/89003+++'), false);
      assert.equal(isValidBelgian('+++090/0000/00155+++'), false);
      fc.assert(
        fc.property(
          fc.stringMatching(/^\d{10}$/),
          fc.integer({ min: 1, max: 96 }),
          (first10, shift) => {
            const check = Number(belgianCheck(first10));
            const wrong = String(((check - 1 + shift) % 97) + 1).padStart(2, '0');
            return isValidBelgian(makeBelgian(first10)) && !isValidBelgian(first10 + wrong);
          },
        ),
      );
    });
  });

  describe('finding references in bank text', () => {
    it('reads an RF reference printed in groups and stops before the next word', () => {
      const [ref] = findStructuredReferences('Invoice payment RF18 5390 0754 7034 THANKS');
      assert.deepEqual(
        { kind: ref.kind, canonical: ref.canonical, text: ref.text, valid: ref.valid },
        { kind: 'rf', canonical: 'RF18539007547034', text: 'RF18 5390 0754 7034', valid: true },
      );
    });

    it('reports a reference with a wrong check digit as invalid', () => {
      const refs = findStructuredReferences('RF19 5390 0754 7034');
      assert.equal(refs.length, 1);
      assert.equal(refs[0].valid, false);
    });

    it('finds Belgian references decorated, slashed, and bare digits only where asked', () => {
      const refs = findStructuredReferences(
        'pay +++090/0000/01262+++ and ***123/4567/89002*** then 123/4567/89002',
      );
      assert.deepEqual(
        refs.map((r) => [r.kind, r.canonical, r.valid]),
        [
          ['be', '+++090/0000/01262+++', true],
          ['be', '+++123/4567/89002+++', true],
          ['be', '+++123/4567/89002+++', true],
        ],
      );
      assert.deepEqual(findStructuredReferences('090000001262'), []);
      assert.equal(
        findStructuredReferences('090000001262', { bareDigits: true })[0].canonical,
        '+++090/0000/01262+++',
      );
    });

    it('does not take RF out of the middle of a word', () => {
      assert.deepEqual(findStructuredReferences('SURF18 5390 0754 7034'), []);
    });

    it('parses a stored payment reference to its canonical form', () => {
      assert.equal(parseStructuredReference('rf18 5390 0754 7034')?.canonical, 'RF18539007547034');
      assert.equal(
        parseStructuredReference('***090/0000/01262***')?.canonical,
        '+++090/0000/01262+++',
      );
      assert.equal(parseStructuredReference('INV/2024/0001'), undefined);
    });

    it('blanks references out so an invoice number is not found inside a failed one', () => {
      const text = 'ref RF19 2024 0001 ok';
      assert.equal(withoutStructuredReferences(text).trim(), 'ref                ok'.trim());
      assert.equal(mentionsInvoiceNumber(withoutStructuredReferences(text), '20240001'), false);
    });
  });

  describe('invoice numbers in memo text', () => {
    it('finds the number as a whole word, case-insensitive, separators interchangeable', () => {
      assert.equal(mentionsInvoiceNumber('Payment INV/2024/0003 thanks', 'INV/2024/0003'), true);
      assert.equal(mentionsInvoiceNumber('payment inv-2024-0003', 'INV/2024/0003'), true);
      assert.equal(mentionsInvoiceNumber('INV 2024 0003.', 'INV/2024/0003'), true);
    });

    it('does not find a number inside a longer one', () => {
      assert.equal(mentionsInvoiceNumber('INV/2024/00031', 'INV/2024/0003'), false);
      assert.equal(mentionsInvoiceNumber('XINV/2024/0003', 'INV/2024/0003'), false);
      assert.equal(mentionsInvoiceNumber(undefined, 'INV/2024/0003'), false);
    });

    it('never looks for numbers too short to be evidence', () => {
      assert.equal(mentionsInvoiceNumber('paid 12 items', '12'), false);
      assert.equal(mentionsInvoiceNumber('paid invoice 1234', '1234'), true);
    });
  });
});
