import { RATES_PROVIDERS } from '../constants';
import { scheduleSchema } from './bank';
import { boolean, object, oneOfValues, path, string, type Schema } from './common';

/** `rates`: where exchange rates come from (docs/CURRENCIES.md, "Rates sources"). */
export const ratesSchema: Schema = object(
  'Exchange rates for the company currency: a provider on a schedule and/or a folder of CSV files.',
  {
    provider: oneOfValues(
      'ecb: the European Central Bank daily euro reference rates (XML); none: no provider.',
      RATES_PROVIDERS,
      { default: 'none' },
    ),
    url: string(
      'The provider URL. Default: the ECB daily file; eurofxref-hist-90d.xml or eurofxref-hist.xml fetch past days too.',
      {
        format: 'booksync-public-url',
        default: 'https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml',
      },
    ),
    schedule: {
      ...scheduleSchema,
      description:
        'When rates are fetched and the folder read: { every: 6h } or { cron: "30 16 * * 1-5" } (server local time). The ECB publishes around 16:00 CET on working days.',
      default: { every: '6h' },
    },
    folder: {
      ...path(
        'A folder of rates CSV files (columns date, base, quote, rate), read on the schedule and at start. null: none.',
      ),
      type: ['string', 'null'],
      default: null,
    },
    keep_files: boolean(
      "Leave the folder's files in place instead of moving them to archive/ or rejected/; a rate read again is left as it is.",
      false,
    ),
  },
  { default: {} },
);
