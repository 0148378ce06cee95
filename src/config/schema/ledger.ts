import { PERCENT_PATTERN } from '../../shared/rate';
import { CONNECTION_NAME_PATTERN, POST_MOVES } from '../constants';
import {
  currency,
  integer,
  journalCode,
  object,
  oneOfValues,
  path,
  string,
  TITLES,
  type Schema,
} from './common';

/** `ledger`: the company and how bank statement lines become moves. */

const accountCode = (description: string): Schema =>
  string(`${description} Quote codes that look like numbers ("1010").`, { maxLength: 32 });

const ledgerConnectionSchema: Schema = object(
  "Posting of one bank connection's statement lines: each becomes a move of bank_account against suspense_account.",
  {
    journal: journalCode(
      "Journal of the moves. Default: the bank connection's journal (and when given, it must be the same).",
    ),
    bank_account: accountCode('Account code of the bank account.'),
    suspense_account: accountCode(
      'Account code the counterpart goes to until the line is reconciled.',
    ),
    currency: currency('Currency of the bank account. Default: ledger.company.currency.'),
  },
  { required: ['bank_account', 'suspense_account'] },
);

const ruleKind = (kind: string) => ({ type: 'string', const: kind, description: 'Rule kind.' });

const ruleSchema: Schema = {
  type: 'object',
  description:
    'A reconciliation rule; rules are tried in order and the first match clears the line.',
  discriminator: { propertyName: 'kind' },
  required: ['kind'],
  oneOf: [
    object('reference: the memo or reference names an open invoice or bill.', {
      kind: ruleKind('reference'),
    }),
    object('amount_partner: same amount as an open invoice or bill of the same partner.', {
      kind: ruleKind('amount_partner'),
    }),
    object(
      'amount_window: an open invoice or bill with an amount within tolerance and a date within days.',
      {
        kind: ruleKind('amount_window'),
        tolerance: {
          type: 'string',
          title: TITLES.amount,
          description:
            'Largest amount difference, quoted decimal text in the company currency ("0.50").',
          pattern: '^[0-9]+(\\.[0-9]+)?$',
          default: '0.00',
        },
        days: integer('Largest date difference in days.', 0, 366),
        write_off: accountCode(
          'Account the difference of a near match is booked to (bank fees, small discounts, rounding), so the invoice or bill is paid in full. It must be in the chart; needs a tolerance above 0. Absent: the difference stays open (short) or in suspense (over).',
        ),
      },
      { required: ['days'] },
    ),
    object(
      'transfer: an outgoing line on one own connection and an incoming line of the same amount on another within days become one transfer through ledger.accounts.transfer (README, "Transfers between own accounts").',
      {
        kind: ruleKind('transfer'),
        days: integer('Largest date difference in days between the two lines.', 0, 366),
        tolerance: {
          type: 'string',
          title: TITLES.percent,
          description:
            'Two currencies only: largest difference between the incoming amount and the outgoing amount converted at the rate of its date, in percent of the converted amount ("1.5%"), for the bank\'s own rate. Same currency: the amounts must be equal.',
          pattern: PERCENT_PATTERN,
          default: '0%',
        },
      },
      { required: ['days'] },
    ),
  ],
};

export const ledgerSchema: Schema = object(
  'The books: company, posting of bank lines, reconciliation.',
  {
    company: object(
      'The company the books belong to.',
      { name: string('Company name.'), currency: currency('Company (book-keeping) currency.') },
      { required: ['name', 'currency'] },
    ),
    post_moves: oneOfValues('State of the moves made from statement lines.', POST_MOVES, {
      default: 'posted',
    }),
    chart: {
      ...path(
        'A company file (chart of accounts, journals, and optionally partners and open invoices, as in config/demo-company.yaml) whose missing documents are created at start; documents already in the books are never overwritten. null: none.',
      ),
      type: ['string', 'null'],
      default: null,
    },
    accounts: object(
      "Accounts the automation posts to besides each connection's bank and suspense accounts.",
      {
        receivable: accountCode('Receivable account cleared when a customer pays.'),
        payable: accountCode('Payable account cleared when a bill is paid.'),
        opening_balance: accountCode("Counterpart of a connection's opening balance."),
        fx_gain: accountCode(
          'Income account of a realised exchange gain (a foreign invoice paid at a better rate).',
        ),
        fx_loss: accountCode('Expense account of a realised exchange loss.'),
        transfer: accountCode(
          'Liquidity-transfer account money between two own bank accounts passes through (the transfer rule); an asset account, reconcile: true.',
        ),
      },
      { default: {} },
    ),
    connections: {
      type: 'object',
      description: 'Posting per bank connection, keyed by bank.connections[].name.',
      propertyNames: { title: TITLES.connectionName, pattern: CONNECTION_NAME_PATTERN },
      additionalProperties: ledgerConnectionSchema,
      default: {},
    },
    reconcile: object(
      'Matching statement lines to open invoices and bills.',
      {
        rules: {
          type: 'array',
          description: 'Rules, tried in order; none: nothing is reconciled automatically.',
          items: ruleSchema,
          default: [],
        },
      },
      { default: {} },
    ),
  },
  { required: ['company'] },
);
