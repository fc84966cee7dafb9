import { Controller, Get, Header, Inject, Module } from '@nestjs/common';
import { Public } from '../auth/auth.guard.js';
import type { EventSigningKeySetV1 } from '../contracts/index.js';
import { EVENT_KEYS } from '../runtime/service.module.js';
import type { EventKeyRing } from './event-key-ring.js';

/**
 * GET /.well-known/event-signing-keys: the public keys of this service's own events, as a JWK Set. Public, like
 * the license-signing keys: subscribers of other teams fetch them to verify the events they read, and public keys
 * are meant to be fetched. Each producing service publishes only its own source's keys: it is their authority.
 */
@Controller('.well-known/event-signing-keys')
export class EventSigningKeysController {
  constructor(@Inject(EVENT_KEYS) private readonly keys: EventKeyRing) {}

  @Get()
  @Public()
  // Short enough that a key added for a rotation (published at the producer's restart) reaches subscribers quickly.
  @Header('Cache-Control', 'public, max-age=300')
  get(): EventSigningKeySetV1 {
    return this.keys.published;
  }
}

/** Adds GET /.well-known/event-signing-keys to a producing service (needs ServiceModule, which provides its keys). */
@Module({ controllers: [EventSigningKeysController] })
export class EventSigningKeysModule {}
