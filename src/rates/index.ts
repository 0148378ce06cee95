/** Exchange rates sources: the ECB reference rates and rates CSV files (docs/CURRENCIES.md). */
export { RatesError, type RatesErrorCode } from './errors';
export { ECB_DAILY_URL, parseEcbXml, type EcbRates } from './ecb';
export { parseRatesCsv } from './csv';
export type { RateQuote } from './quote';
export { storeRates, type StoredRates } from './store';
export { fetchEcbRates, importRatesFolder, type FolderFileResult } from './sources';
export { RatesRunner, type RatesRun, type RatesSettings } from './runner';
export { listRates, parsePair, summarizeRateIds, type RatePairSummary } from './listing';
