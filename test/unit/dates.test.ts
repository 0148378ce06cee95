import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { hasCode } from '../../src/shared/errors';
import {
  addDays,
  assertCalendarDate,
  calendarDate,
  daysBetween,
  daysInMonth,
  isCalendarDate,
  systemClock,
  utcDate,
} from '../../src/shared/dates';

const invalidDate = (e: unknown) => hasCode(e, 'DATE_INVALID');

describe('dates', () => {
  describe('isCalendarDate', () => {
    for (const good of [
      '2024-01-01',
      '2024-02-29',
      '2000-02-29',
      '1999-12-31',
      '0000-02-29',
      '9999-12-31',
      '2024-04-30',
    ]) {
      it(`accepts ${good}`, () => assert.equal(isCalendarDate(good), true));
    }
    for (const bad of [
      '2023-02-29',
      '1900-02-29',
      '2024-02-30',
      '2024-04-31',
      '2024-13-01',
      '2024-00-10',
      '2024-01-00',
      '2024-1-01',
      '24-01-01',
      ' 2024-01-01',
      '2024-01-01T00:00:00Z',
      '2024/01/01',
      '',
      '20240101',
    ]) {
      it(`refuses '${bad}'`, () => assert.equal(isCalendarDate(bad), false));
    }
    it('refuses non-strings', () => {
      assert.equal(isCalendarDate(20240101), false);
      assert.equal(isCalendarDate(undefined), false);
      assert.equal(isCalendarDate(new Date()), false);
    });
  });

  describe('daysInMonth', () => {
    it('follows the Gregorian leap rules, also for years below 100', () => {
      assert.equal(daysInMonth(2024, 2), 29);
      assert.equal(daysInMonth(2023, 2), 28);
      assert.equal(daysInMonth(1900, 2), 28);
      assert.equal(daysInMonth(2000, 2), 29);
      assert.equal(daysInMonth(4, 2), 29);
      assert.equal(daysInMonth(100, 2), 28);
      assert.equal(daysInMonth(2024, 4), 30);
      assert.equal(daysInMonth(2024, 12), 31);
    });
  });

  describe('calendarDate', () => {
    it('pads and checks its parts', () => {
      assert.equal(calendarDate(2024, 3, 5), '2024-03-05');
      assert.throws(() => calendarDate(2024, 2, 30), invalidDate);
      assert.throws(() => calendarDate(2024, 13, 1), invalidDate);
    });
  });

  describe('addDays', () => {
    it('crosses month, year and leap-day boundaries', () => {
      assert.equal(addDays('2024-02-28', 1), '2024-02-29');
      assert.equal(addDays('2023-02-28', 1), '2023-03-01');
      assert.equal(addDays('2024-12-31', 1), '2025-01-01');
      assert.equal(addDays('2025-01-01', -1), '2024-12-31');
      assert.equal(addDays('2024-03-01', -1), '2024-02-29');
      assert.equal(addDays('2024-01-15', 0), '2024-01-15');
      assert.equal(addDays('2024-01-01', 366), '2025-01-01');
    });

    it('refuses fractional days, bad dates and results outside 0000-9999', () => {
      assert.throws(() => addDays('2024-01-31', 0.5), invalidDate);
      assert.throws(() => addDays('2024-02-30', 1), invalidDate);
      assert.throws(() => addDays('0000-01-01', -1), invalidDate);
      assert.throws(() => addDays('9999-12-31', 1), invalidDate);
    });

    it('is undone by subtracting the same days and agrees with daysBetween (property)', () => {
      fc.assert(
        fc.property(
          fc.date({
            min: new Date('1900-01-01T00:00:00Z'),
            max: new Date('2100-12-31T00:00:00Z'),
            noInvalidDate: true,
          }),
          fc.integer({ min: -20000, max: 20000 }),
          (instant, days) => {
            const start = utcDate(instant);
            const end = addDays(start, days);
            assert.ok(isCalendarDate(end));
            assert.equal(addDays(end, -days), start);
            assert.equal(daysBetween(start, end), days);
          },
        ),
      );
    });
  });

  describe('daysBetween', () => {
    it('counts whole days, negative backwards', () => {
      assert.equal(daysBetween('2024-01-01', '2024-03-01'), 60);
      assert.equal(daysBetween('2023-01-01', '2023-03-01'), 59);
      assert.equal(daysBetween('2024-03-01', '2024-01-01'), -60);
      assert.throws(() => daysBetween('2024-01-01', 'tomorrow'), invalidDate);
    });
  });

  describe('utcDate', () => {
    it('takes the UTC calendar day of an instant, wherever the server runs', () => {
      assert.equal(utcDate(new Date('2024-06-30T23:59:59.999Z')), '2024-06-30');
      assert.equal(utcDate(new Date('2024-06-30T23:30:00-02:00')), '2024-07-01');
      assert.equal(utcDate(Date.UTC(2024, 0, 1)), '2024-01-01');
    });
  });

  describe('assertCalendarDate', () => {
    it('names what was wrong', () => {
      assert.throws(
        () => assertCalendarDate('2024-02-30', 'booking date'),
        (e: unknown) => invalidDate(e) && /booking date '2024-02-30'/.test((e as Error).message),
      );
      assert.doesNotThrow(() => assertCalendarDate('2024-02-29'));
    });
  });

  it('systemClock returns the current time', () => {
    const before = Date.now();
    const now = systemClock().getTime();
    assert.ok(now >= before && now <= Date.now());
  });
});
