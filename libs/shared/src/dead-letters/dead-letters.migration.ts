import { sqlMigration } from '../database/migrations.js';

/**
 * The dead-letter index of a consuming service: one row per message its consumers dead-lettered, fed
 * asynchronously from the dead-letter stream, numbered in the order they were indexed (not by the dead-letter
 * stream's sequence, which restarts if that stream is ever re-created); `original` (the original's
 * `<stream>:<seq>:<consumer>`) is unique, so a message a consumer dead-lettered twice is listed once. `replayed_at` marks
 * a letter replayed, so it leaves the listing and cannot be replayed again.
 */
export const CreateDeadLetters1764100000000 = sqlMigration('CreateDeadLetters1764100000000', {
  up: [
    `
      CREATE TABLE dead_letters (
        id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        original         text        NOT NULL UNIQUE,
        consumer         text        NOT NULL,
        reason           text        NOT NULL,
        detail           text        NOT NULL,
        stream           text        NOT NULL,
        stream_sequence  bigint      NOT NULL,
        subject          text        NOT NULL,
        deliveries       integer     NOT NULL,
        headers          jsonb       NOT NULL,
        body             bytea       NOT NULL,
        dead_lettered_at timestamptz NOT NULL,
        replayed_at      timestamptz
      )`,
    'CREATE INDEX dead_letters_pending ON dead_letters (id DESC) WHERE replayed_at IS NULL',
  ],
  down: ['DROP TABLE dead_letters'],
});
