import { z } from 'zod';

/**
 * `GET /.well-known/event-signing-keys` on each producing service: a JWK Set (RFC 7517) of the public Ed25519 keys
 * (RFC 8037) its events are signed with. A subscriber looks an event's `Event-Key-Id` header up by `kid` and checks
 * `Event-Signature` (base64) over the exact message body with that key.
 */
export const EventSigningJwkV1 = z
  .object({
    kty: z.literal('OKP'),
    crv: z.literal('Ed25519'),
    /** The raw 32-byte public key, base64url without padding. */
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    kid: z
      .string()
      .min(1)
      .meta({
        description:
          "`<source>/<name>~<thumbprint>`: the producing service, the key's name, and the RFC 7638 SHA-256 thumbprint of " +
          "this JWK, so two different keys never share a kid. It is what the `Event-Key-Id` header of the key's events says.",
      }),
    alg: z.literal('EdDSA'),
    use: z.literal('sig'),
  })
  .meta({ description: 'An Ed25519 public key (RFC 8037 OKP JWK) that signs events.' });
export type EventSigningJwkV1 = z.infer<typeof EventSigningJwkV1>;

export const EventSigningKeySetV1 = z
  .object({
    keys: z.array(EventSigningJwkV1),
  })
  .meta({
    description:
      "Every key whose events may still be on the service's stream: the one it signs with now, keys it signed with " +
      'before a rotation, and retired public keys kept until their events are gone.',
  });
export type EventSigningKeySetV1 = z.infer<typeof EventSigningKeySetV1>;
