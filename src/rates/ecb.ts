import { localName, Tokenizer, TokenizerError } from '../bank/formats/tokenizer';
import { isCalendarDate } from '../shared/dates';
import { isCurrency } from '../shared/money';
import { isRateText } from '../shared/rate';
import { malformed, RatesError } from './errors';
import type { RateQuote } from './quote';

/**
 * The ECB's euro foreign exchange reference rates as XML (docs/CURRENCIES.md, "ECB"): the
 * files eurofxref-daily.xml, eurofxref-hist-90d.xml and eurofxref-hist.xml at
 * https://www.ecb.europa.eu/stats/eurofxref/. A `gesmes:Envelope` holds one `Cube`, which holds
 * a `Cube time="YYYY-MM-DD"` per publishing day, each holding `Cube currency="USD" rate="1.0830"`
 * per currency: 1 EUR = rate units of the currency.
 *
 * The whole answer is read before anything is returned: a cut or garbled file is an error naming
 * its line, never a partial set of rates. Codes the ISO 4217 list no longer carries (the
 * historical file still quotes CYP, HRK ...) are skipped and counted.
 */

export const ECB_DAILY_URL = 'https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml';

export interface EcbRates {
  quotes: RateQuote[];
  /** Quotes of codes outside the active ISO 4217 list, left out. */
  skipped: number;
}

export function parseEcbXml(text: string, source = 'ECB answer'): EcbRates {
  const quotes: RateQuote[] = [];
  const stack: string[] = [];
  let envelope = false;
  let day: string | undefined;
  /** Depth of the open `Cube time=` (the stack's length before it was pushed), or -1. */
  let dayDepth = -1;
  let skipped = 0;
  const tokenizer = new Tokenizer({
    open(name, attributes, selfClosing) {
      const local = localName(name);
      const line = tokenizer.line;
      if (stack.length === 0) {
        if (local !== 'Envelope')
          throw malformed(source, line, `expected a gesmes:Envelope, found <${name}>`);
        envelope = true;
      }
      if (local === 'Cube') {
        const time = attributes?.time;
        const currency = attributes?.currency;
        if (time !== undefined) {
          if (!isCalendarDate(time))
            throw malformed(source, line, `Cube time '${String(time)}' is not a date YYYY-MM-DD`);
          if (day !== undefined) throw malformed(source, line, 'a Cube time inside another one');
          day = time;
          dayDepth = selfClosing ? -1 : stack.length;
          if (selfClosing) day = undefined;
        } else if (currency !== undefined) {
          if (day === undefined)
            throw malformed(source, line, `Cube currency '${currency}' outside a Cube time`);
          const rate = attributes?.rate;
          if (!/^[A-Z]{3}$/.test(currency))
            throw malformed(source, line, `'${currency}' is not a currency code`);
          if (rate === undefined || !isRateText(rate))
            throw malformed(
              source,
              line,
              `Cube currency '${currency}' has no valid rate (got ${JSON.stringify(rate ?? null)})`,
            );
          if (currency === 'EUR') throw malformed(source, line, 'a rate of EUR against itself');
          if (isCurrency(currency))
            quotes.push({ base: 'EUR', quote: currency, date: day, rate, line });
          else skipped += 1;
        }
      }
      if (!selfClosing) stack.push(name);
    },
    close(name) {
      const open = stack.pop();
      if (open !== name)
        throw malformed(source, tokenizer.line, `</${name}> closes <${open ?? 'nothing'}>`);
      if (stack.length === dayDepth) {
        day = undefined;
        dayDepth = -1;
      }
    },
    text() {},
  });
  try {
    tokenizer.write(text);
    tokenizer.end();
  } catch (err) {
    if (err instanceof RatesError) throw err;
    if (err instanceof TokenizerError) throw malformed(source, err.line, err.message);
    throw err;
  }
  if (!envelope)
    throw malformed(source, 1, 'no gesmes:Envelope (is this the ECB reference rates XML?)');
  if (stack.length > 0)
    throw malformed(source, tokenizer.line, `the file ends inside <${stack[stack.length - 1]}>`);
  if (quotes.length === 0)
    throw malformed(
      source,
      tokenizer.line,
      'no rates (no Cube currency= rate= inside a Cube time=)',
    );
  return { quotes, skipped };
}
