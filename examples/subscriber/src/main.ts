/**
 * Runs the subscriber until Ctrl-C, printing each Secondary's licenses as they change. Environment: NATS_URL,
 * TEAM (the team an operator granted a consumer with `npm run bus -- grant-consumer --team <team> --stream SYNC_AGENT`),
 * NATS_PASSWORD (its TEAM_<TEAM>_NATS_PASSWORD), SYNC_AGENT_URL (default http://127.0.0.1:3003).
 */
import { EffectiveSetSubscriber } from './subscriber.ts';

const team = process.env.TEAM ?? 'example';
const subscriber = new EffectiveSetSubscriber({
  servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  user: `team-${team}`,
  password: process.env.NATS_PASSWORD ?? '',
  inboxPrefix: `_INBOX_team-${team}`,
  stream: 'SYNC_AGENT',
  durable: `team-${team}`,
  keySets: { 'sync-agent': `${process.env.SYNC_AGENT_URL ?? 'http://127.0.0.1:3003'}/.well-known/event-signing-keys` },
});
await subscriber.start();
const timer = setInterval(() => {
  for (const [serial, { version, set }] of subscriber.sets)
    if (set.role === 'secondary') console.log(`${serial} v${version}: ${set.licenses.map((l) => l.sku).join(', ') || '(none)'}`);
}, 5_000);
process.once('SIGINT', () => {
  clearInterval(timer);
  void subscriber.stop();
});
