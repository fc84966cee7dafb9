/** What every measurement gets: the scale, the database, the NATS connection and a progress logger. */
import type pg from 'pg';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { BenchConfig } from './config.js';

export interface BenchContext {
  readonly config: BenchConfig;
  /** A client of the benchmark database (application_name `bench`). */
  readonly db: pg.Client;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly log: (line: string) => void;
}
