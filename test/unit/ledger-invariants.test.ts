import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  LedgerError,
  balanceProblems,
  docProblems,
  reverseMove,
  validateWrite,
  type BooksDoc,
  type MoveDoc,
  type MoveLine,
} from '../../src/ledger';

const T = '2024-03-01T10:00:00.000Z';

function line(account: string, debit: number, credit: number, currency = 'EUR'): MoveLine {
  return { account, debit, credit, currency };
}

function move(lines: MoveLine[], over: Partial<MoveDoc> = {}): MoveDoc {
  return {
    _id: 'move:BNK1:2024:0001',
    type: 'move',
    journal: 'BNK1',
    date: '2024-03-01',
    state: 'draft',
    lines,
    ...over,
  };
}

const salePosted = move([line('1010', 12100, 0), line('7000', 0, 10000), line('4510', 0, 2100)], {
  state: 'posted',
  posted_at: T,
  created_at: T,
  updated_at: T,
  _rev: '2-abc',
});

/** Asserts `fn` throws a LedgerError with `code`, whose details name `docId` (and `field`). */
function refuses(fn: () => unknown, code: string, docId: string, field?: string): LedgerError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof LedgerError, `expected a LedgerError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.details.doc_id, docId);
  assert.equal(typeof caught.details.rule, 'string');
  assert.ok(caught.message.includes(docId), `message names the document: ${caught.message}`);
  if (field !== undefined) {
    assert.ok(
      caught.problems.some((p) => p.field === field && p.message.includes(field)),
      `a problem names field ${field}: ${caught.message}`,
    );
  }
  return caught;
}

describe('ledger invariants', () => {
  describe('a move balances per currency', () => {
    it('given a balanced EUR move with three lines, when validated, then it is accepted', () => {
      assert.deepEqual(validateWrite(salePosted, undefined), { overridden: [] });
    });

    it('given debits that exceed credits by one cent, then LEDGER_UNBALANCED names the currency and amounts', () => {
      const m = move([line('1010', 12101, 0), line('7000', 0, 10000), line('4510', 0, 2100)]);
      const err = refuses(() => validateWrite(m, undefined), 'LEDGER_UNBALANCED', m._id);
      assert.equal(err.details.rule, 'balance');
      assert.match(err.message, /EUR: debit 121\.01 ≠ credit 121\.00/);
    });

    it('given a move balanced in EUR and in USD separately, then it is accepted', () => {
      const m = move([
        line('1010', 500, 0, 'EUR'),
        line('1020', 0, 500, 'EUR'),
        line('1030', 700, 0, 'USD'),
        line('1040', 0, 700, 'USD'),
      ]);
      assert.doesNotThrow(() => validateWrite(m, undefined));
    });

    it('given a move whose total balances only across currencies, then the unbalanced currencies are both named', () => {
      // 10.00 EUR debit against 10.00 USD credit: the numbers agree, the money does not.
      const m = move([line('1010', 1000, 0, 'EUR'), line('1020', 0, 1000, 'USD')]);
      const err = refuses(() => validateWrite(m, undefined), 'LEDGER_UNBALANCED', m._id);
      assert.deepEqual(
        err.problems.map((p) => p.message.match(/in ([A-Z]{3})/)?.[1]),
        ['EUR', 'USD'],
      );
    });

    it('given a JPY move, then amounts are whole yen and the message shows them as such', () => {
      const m = move([line('1010', 1500, 0, 'JPY'), line('1020', 0, 1499, 'JPY')]);
      assert.match(
        refuses(() => validateWrite(m, undefined), 'LEDGER_UNBALANCED', m._id).message,
        /debit 1500 ≠ credit 1499/,
      );
    });

    it('given a single line, then LEDGER_UNBALANCED (a move needs two lines)', () => {
      const m = move([line('1010', 100, 0)]);
      const err = refuses(() => validateWrite(m, undefined), 'LEDGER_UNBALANCED', m._id);
      assert.ok(err.problems.some((p) => p.rule === 'min_lines'));
    });

    it('given no lines at all, then LEDGER_UNBALANCED', () => {
      refuses(() => validateWrite(move([]), undefined), 'LEDGER_UNBALANCED', 'move:BNK1:2024:0001');
    });

    it('given a fractional cent, then LEDGER_INVALID_DOC names the line field', () => {
      const m = move([line('1010', 10.5, 0), line('7000', 0, 10.5)]);
      refuses(() => validateWrite(m, undefined), 'LEDGER_INVALID_DOC', m._id, 'lines[0].debit');
    });

    it('given an amount given as text, then LEDGER_INVALID_DOC', () => {
      const m = move([line('1010', '100' as unknown as number, 0), line('7000', 0, 100)]);
      refuses(() => validateWrite(m, undefined), 'LEDGER_INVALID_DOC', m._id, 'lines[0].debit');
    });

    it('given a negative debit or a line with both sides, then LEDGER_INVALID_DOC', () => {
      const neg = move([line('1010', -100, 0), line('7000', -100, 0)]);
      refuses(() => validateWrite(neg, undefined), 'LEDGER_INVALID_DOC', neg._id, 'lines[0].debit');
      const both = move([line('1010', 100, 100), line('7000', 0, 0)]);
      const err = refuses(
        () => validateWrite(both, undefined),
        'LEDGER_INVALID_DOC',
        both._id,
        'lines[0]',
      );
      assert.ok(err.problems.some((p) => p.field === 'lines[1]' && p.rule === 'one_side'));
    });

    it('given totals beyond the safe integer range, then the move is refused', () => {
      const big = Number.MAX_SAFE_INTEGER;
      const m = move([
        line('1010', big, 0),
        line('1011', big, 0),
        line('7000', 0, big),
        line('7001', 0, big),
      ]);
      const err = refuses(() => validateWrite(m, undefined), 'LEDGER_UNBALANCED', m._id);
      assert.equal(err.details.rule, 'overflow');
    });

    it('balances random balanced moves and refuses any single-amount perturbation (property)', () => {
      const currency = fc.constantFrom('EUR', 'USD', 'JPY', 'KWD');
      // A balanced move: per currency, random debits and a split of the same total into credits.
      const balancedLines = fc
        .array(
          fc.record({
            currency,
            debits: fc.array(fc.integer({ min: 1, max: 1e9 }), { minLength: 1, maxLength: 4 }),
            creditParts: fc.integer({ min: 1, max: 4 }),
          }),
          { minLength: 1, maxLength: 3 },
        )
        .map((groups) => {
          const lines: MoveLine[] = [];
          for (const g of groups) {
            const total = g.debits.reduce((a, b) => a + b, 0);
            g.debits.forEach((d, i) => lines.push(line(`D${i}`, d, 0, g.currency)));
            const parts = Math.min(g.creditParts, total);
            let left = total;
            for (let i = 0; i < parts; i++) {
              const c = i === parts - 1 ? left : Math.max(1, Math.floor(left / (parts - i)));
              lines.push(line(`C${i}`, 0, c, g.currency));
              left -= c;
            }
          }
          return lines;
        });
      fc.assert(
        fc.property(
          balancedLines,
          fc.nat(),
          fc.integer({ min: -1e6, max: 1e6 }).filter((d) => d !== 0),
          fc.constantFrom<'draft' | 'posted'>('draft', 'posted'),
          (lines, pick, delta, state) => {
            const m = move(lines, { state });
            assert.deepEqual(validateWrite(m, undefined), { overridden: [] });
            // Perturb one line's non-zero side, keeping it a positive integer.
            const i = pick % lines.length;
            const side = lines[i].debit !== 0 ? 'debit' : 'credit';
            const value =
              lines[i][side] + delta > 0
                ? lines[i][side] + delta
                : lines[i][side] + Math.abs(delta);
            const perturbed = lines.map((l, j) => (j === i ? { ...l, [side]: value } : l));
            assert.throws(
              () => validateWrite(move(perturbed, { state }), undefined),
              (err: unknown) => {
                return (
                  err instanceof LedgerError &&
                  err.code === 'LEDGER_UNBALANCED' &&
                  err.details.rule === 'balance'
                );
              },
            );
          },
        ),
        { numRuns: 300 },
      );
    });

    it('balanceProblems is empty for a balanced move', () => {
      assert.deepEqual(balanceProblems(salePosted), []);
    });
  });

  describe('a posted move is immutable', () => {
    const draft = { ...salePosted, state: 'draft' as const, posted_at: undefined };

    it('given a draft, when it is edited, then the edit is accepted', () => {
      assert.doesNotThrow(() => validateWrite({ ...draft, ref: 'INV/2024/0001' }, draft));
    });

    it('given a draft, when it is posted, then that is accepted', () => {
      assert.doesNotThrow(() => validateWrite({ ...draft, state: 'posted', posted_at: T }, draft));
    });

    it('given a posted move, when a line amount changes, then LEDGER_POSTED_IMMUTABLE', () => {
      const edited = {
        ...salePosted,
        lines: [line('1010', 12000, 0), line('7000', 0, 10000), line('4510', 0, 2000)],
      };
      const err = refuses(
        () => validateWrite(edited, salePosted),
        'LEDGER_POSTED_IMMUTABLE',
        salePosted._id,
      );
      assert.equal(err.details.rule, 'posted_immutable');
      assert.match(err.message, /reverse it/);
    });

    it('given a posted move, when only its ref changes, then it is refused too', () => {
      refuses(
        () => validateWrite({ ...salePosted, ref: 'typo fixed' }, salePosted),
        'LEDGER_POSTED_IMMUTABLE',
        salePosted._id,
      );
    });

    it('given a posted move, when it is set back to draft, then it is refused', () => {
      const err = refuses(
        () => validateWrite({ ...salePosted, state: 'draft' }, salePosted),
        'LEDGER_POSTED_IMMUTABLE',
        salePosted._id,
      );
      assert.match(err.message, /back to draft/);
    });

    it('given a posted move, when it is deleted, then it is refused', () => {
      refuses(
        () => validateWrite({ _id: salePosted._id, _deleted: true }, salePosted),
        'LEDGER_POSTED_IMMUTABLE',
        salePosted._id,
      );
    });

    it('given a draft move, when it is deleted, then that is accepted', () => {
      assert.doesNotThrow(() => validateWrite({ _id: draft._id, _deleted: true }, draft));
    });

    it('given a posted move, when the same content is written again with new timestamps and rev, then it is accepted (idempotent)', () => {
      const again = { ...salePosted, _rev: '3-def', updated_at: '2024-03-02T00:00:00.000Z' };
      assert.doesNotThrow(() => validateWrite(again, salePosted));
      // Key order does not matter either.
      const reordered = Object.fromEntries(
        Object.entries(salePosted).reverse(),
      ) as unknown as MoveDoc;
      assert.doesNotThrow(() => validateWrite(reordered, salePosted));
    });

    it('given an override with a reason, then the edit passes and reports the bypassed rule', () => {
      const edited = { ...salePosted, ref: 'admin fix' };
      assert.deepEqual(
        validateWrite(edited, salePosted, { override: { reason: 'conflict resolution #12' } }),
        {
          overridden: ['posted_immutable'],
        },
      );
      assert.deepEqual(
        validateWrite({ _id: salePosted._id, _deleted: true }, salePosted, {
          override: { reason: 'duplicate import' },
        }),
        {
          overridden: ['posted_immutable'],
        },
      );
    });

    it('given an override, then balance is still enforced', () => {
      const unbalanced = { ...salePosted, lines: [line('1010', 1, 0), line('7000', 0, 2)] };
      refuses(
        () => validateWrite(unbalanced, salePosted, { override: { reason: 'x' } }),
        'LEDGER_UNBALANCED',
        salePosted._id,
      );
    });

    it('given an override without a reason, then it is refused', () => {
      refuses(
        () => validateWrite(salePosted, salePosted, { override: { reason: '  ' } }),
        'LEDGER_OVERRIDE_INVALID',
        salePosted._id,
      );
    });
  });

  describe('reverseMove', () => {
    it('given a posted move, then the reversal swaps every line, balances, points back and is accepted', () => {
      const rev = reverseMove(salePosted, '2024-03-15', '2024:0002');
      assert.equal(rev._id, 'move:BNK1:2024:0002');
      assert.equal(rev.reverses, salePosted._id);
      assert.equal(rev.journal, 'BNK1');
      assert.equal(rev.date, '2024-03-15');
      assert.equal(rev.state, 'posted');
      assert.equal(rev.ref, `Reversal of ${salePosted._id}`);
      assert.deepEqual(rev.lines, [
        line('1010', 0, 12100),
        line('7000', 10000, 0),
        line('4510', 2100, 0),
      ]);
      assert.deepEqual(validateWrite(rev, undefined), { overridden: [] });
      assert.equal(rev._rev, undefined, 'a new document');
      assert.equal(salePosted.lines[0].debit, 12100, 'the original is untouched');
    });

    it('keeps partners and labels on the reversed lines', () => {
      const m = {
        ...salePosted,
        lines: [
          { ...line('1100', 500, 0), partner: 'partner:acme', label: 'INV/1' },
          line('7000', 0, 500),
        ],
      };
      assert.deepEqual(reverseMove(m, '2024-03-15', 'R1').lines[0], {
        account: '1100',
        partner: 'partner:acme',
        label: 'INV/1',
        debit: 0,
        credit: 500,
        currency: 'EUR',
      });
    });

    it('refuses to reverse a draft, to reuse the original key, or to use an impossible date', () => {
      refuses(
        () => reverseMove({ ...salePosted, state: 'draft' }, '2024-03-15', 'R1'),
        'LEDGER_INVALID_DOC',
        salePosted._id,
      );
      refuses(
        () => reverseMove(salePosted, '2024-03-15', '2024:0001'),
        'LEDGER_ID_MISMATCH',
        salePosted._id,
      );
      assert.throws(
        () => reverseMove(salePosted, '2024-02-30', 'R1'),
        (e: unknown) => (e as { code?: string }).code === 'DATE_INVALID',
      );
    });
  });

  describe('ids', () => {
    it('a document whose id prefix disagrees with its type is LEDGER_ID_MISMATCH', () => {
      const doc = { ...salePosted, _id: 'account:BNK1:2024:0001' } as BooksDoc;
      refuses(
        () => validateWrite(doc, undefined),
        'LEDGER_ID_MISMATCH',
        'account:BNK1:2024:0001',
        '_id',
      );
    });

    it('a move whose journal field disagrees with its id is LEDGER_ID_MISMATCH', () => {
      refuses(
        () => validateWrite({ ...salePosted, journal: 'SAL' }, undefined),
        'LEDGER_ID_MISMATCH',
        salePosted._id,
        'journal',
      );
    });

    it('a move id without a key is LEDGER_ID_MISMATCH', () => {
      refuses(
        () => validateWrite({ ...salePosted, _id: 'move:BNK1' }, undefined),
        'LEDGER_ID_MISMATCH',
        'move:BNK1',
        '_id',
      );
    });

    it('a write compared against another document is refused', () => {
      refuses(
        () => validateWrite(salePosted, { ...salePosted, _id: 'move:BNK1:other' }),
        'LEDGER_ID_MISMATCH',
        salePosted._id,
      );
    });
  });

  it('docProblems lists every problem, not just the first', () => {
    const problems = docProblems({
      _id: 'account:1010',
      type: 'account',
      code: '1010',
      kind: 'cash',
      currency: 'euro',
    });
    assert.deepEqual(problems.map((p) => p.field).sort(), ['currency', 'kind', 'name']);
    assert.ok(
      problems.every((p) => p.doc_id === 'account:1010' && p.code === 'LEDGER_INVALID_DOC'),
    );
  });
});
