import { describe, expect, it } from '@jest/globals';
import {
  checkReadiness,
  describeViolation,
  type AckedWrite,
  type InboxEntry,
  type ProducedEvent,
  type ReadinessAnswer,
} from './readiness-oracle.js';

const P = 'AAAAAAAAAAAA';
const S = 'BBBBBBBBBBBB';
const OTHER = 'CCCCCCCCCCCC';
const PAIR = '11111111-1111-4111-8111-111111111111';
const T0 = Date.parse('2026-12-07T10:00:00.000Z');
const us = (ms: number) => ms * 1000;

/** A ready answer to a request sent at T0 + 100 ms (tick 100) that arrived at T0 + 120 ms. */
const answer = (overrides: Partial<ReadinessAnswer> = {}): ReadinessAnswer => ({
  pairId: PAIR,
  primarySerial: P,
  secondarySerial: S,
  ready: true,
  gaps: [],
  sentTick: 100,
  sentAt: T0 + 100,
  arrivedAt: T0 + 120,
  ...overrides,
});
/** A grant on the Secondary acknowledged at tick 50 (T0 + 50 ms), whose event is license-1 v1. */
const write = (overrides: Partial<AckedWrite> = {}): AckedWrite => ({
  op: 'grant',
  units: [S],
  correlationId: 'chaos-w1',
  ackTick: 50,
  ackAt: T0 + 50,
  ...overrides,
});
const event = (overrides: Partial<ProducedEvent> = {}): ProducedEvent => ({
  eventId: 'e1',
  streamId: 'license-1',
  streamVersion: 1,
  correlationId: 'chaos-w1',
  ...overrides,
});
const applied = (atMs: number, overrides: Partial<InboxEntry> = {}): InboxEntry => ({
  eventId: 'e1',
  streamId: 'license-1',
  streamVersion: 1,
  appliedAtUs: us(atMs),
  ...overrides,
});

interface Case {
  readonly answers?: ReadinessAnswer[];
  readonly writes?: AckedWrite[];
  readonly produced?: ProducedEvent[];
  readonly inbox: InboxEntry[];
  readonly violations: number;
  readonly raced?: number;
  readonly readyChecked?: number;
}

describe('the readiness oracle', () => {
  describe('when a pair is reported ready after a write on one of its units was acknowledged', () => {
    it.each<[string, Case]>([
      ['the event was applied before the request was sent', { inbox: [applied(T0 + 60)], violations: 0 }],
      ['the event was applied after the answer arrived', { inbox: [applied(T0 + 500)], violations: 1 }],
      ['the event was never applied', { inbox: [], violations: 1 }],
      [
        'the event was applied while the request was in flight (raced, not judged)',
        { inbox: [applied(T0 + 110)], violations: 0, raced: 1 },
      ],
      [
        'the event was applied in the millisecond the answer was read (it may be in the answer)',
        { inbox: [applied(T0 + 120.5)], violations: 0, raced: 1 },
      ],
      [
        'a later version of its stream was applied in time (events carry the whole state)',
        {
          produced: [event(), event({ eventId: 'e2', streamVersion: 2, correlationId: 'chaos-w2' })],
          inbox: [applied(T0 + 60, { eventId: 'e2', streamVersion: 2 })],
          violations: 0,
        },
      ],
      [
        'only an injected copy (an id no producer stored) of that version was applied',
        { inbox: [applied(T0 + 60, { eventId: 'injected' })], violations: 1 },
      ],
      ['the write concerned the Primary', { writes: [write({ units: [P] })], inbox: [applied(T0 + 500)], violations: 1 }],
      [
        'the write touched both units and was not applied: one violation for the answer',
        { writes: [write({ units: [P, S] })], inbox: [], violations: 1 },
      ],
    ])('%s', (_, c) => {
      const verdict = checkReadiness({
        answers: c.answers ?? [answer()],
        writes: c.writes ?? [write()],
        produced: c.produced ?? [event()],
        inbox: c.inbox,
      });
      expect(verdict.violations).toHaveLength(c.violations);
      expect(verdict.raced).toBe(c.raced ?? 0);
      expect(verdict.readyChecked).toBe(1);
    });
  });

  describe('when nothing binds the answer', () => {
    it.each<[string, Case]>([
      ['the answer said not ready', { answers: [answer({ ready: false, gaps: ['PROJECTION_LAG'] })], inbox: [], violations: 0 }],
      ['the write was acknowledged after the request was sent', { writes: [write({ ackTick: 101 })], inbox: [], violations: 0 }],
      ['the write was on a unit of another pair', { writes: [write({ units: [OTHER] })], inbox: [], violations: 0 }],
      [
        'the event was appended by a consumer, not by the write',
        { produced: [event({ correlationId: null })], inbox: [], violations: 0 },
      ],
    ])('%s: no violation', (_, c) => {
      const verdict = checkReadiness({
        answers: c.answers ?? [answer()],
        writes: c.writes ?? [write()],
        produced: c.produced ?? [event()],
        inbox: c.inbox,
      });
      expect(verdict.violations).toEqual([]);
    });
  });

  it('counts the answers, the ready ones, the pairs and the events checked', () => {
    const verdict = checkReadiness({
      answers: [answer(), answer({ ready: false }), answer({ pairId: 'other', sentTick: 10 })],
      writes: [write(), write({ correlationId: 'chaos-w2', ackTick: 60 })],
      produced: [event(), event({ eventId: 'e2', streamVersion: 2, correlationId: 'chaos-w2' })],
      inbox: [applied(T0 + 55), applied(T0 + 65, { eventId: 'e2', streamVersion: 2 })],
    });
    expect(verdict).toMatchObject({ answers: 3, ready: 2, pairs: 2, readyChecked: 1, eventsChecked: 2, raced: 0 });
    expect(verdict.violations).toEqual([]);
  });

  it('names acknowledged writes whose correlation id no stored event carries', () => {
    const verdict = checkReadiness({ answers: [], writes: [write()], produced: [], inbox: [] });
    expect(verdict.writesWithoutEvents).toEqual(['grant chaos-w1']);
  });

  it('describes a violation with the write, the event and how late it was applied', () => {
    const [violation] = checkReadiness({
      answers: [answer()],
      writes: [write()],
      produced: [event()],
      inbox: [applied(T0 + 1120)],
    }).violations;
    expect(describeViolation(violation!)).toBe(
      `pair ${PAIR} ready at 2026-12-07T10:00:00.100Z: 1 event(s) of earlier acknowledged writes not applied, ` +
        'e.g. grant license-1 v1 (acknowledged 0.050 s before the request, applied 1.000 s after the answer)',
    );
  });
});
