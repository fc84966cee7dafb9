import {
  ForbiddenException,
  Inject,
  ServiceUnavailableException,
  Injectable,
  SetMetadata,
  type PipeTransform,
  UnauthorizedException,
  createParamDecorator,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { bearerToken, type ApiKeyRole, type Principal } from './api-keys.js';
import { ApiKeyVerifier } from './api-key-verifier.js';
import { DependencyUnavailableError } from '../messaging/request-reply.js';
import { FailedAuthLimiter } from '../http/failed-auth-limit.js';
import { tooManyRequests } from '../http/rate-limit.js';
import { CLOCK, type Clock } from '../runtime/clock.js';
import type { CommandMetadata } from '../domain/decider.js';

const PUBLIC = 'auth:public';
const ROLES = 'auth:roles';

/** The route needs no key (GET /health, the published license-signing keys). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC, true);

/** The roles that may call the route. A route without it is for operators only (deny by default). */
export const Allow = (...roles: ApiKeyRole[]): MethodDecorator & ClassDecorator => SetMetadata(ROLES, roles);

/** Roles that may read an account's data (the auditor: every account's, read only). */
export const READERS: readonly ApiKeyRole[] = ['operator', 'auditor', 'account-admin', 'reader'];
/** Roles that may change an account's products and pairs. */
export const ACCOUNT_WRITERS: readonly ApiKeyRole[] = ['operator', 'account-admin'];

interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  /** Express's client address: the socket's peer, or X-Forwarded-For's as far as TRUST_PROXY allows. */
  ip?: string;
  principal?: Principal;
}

function callerOf(request: AuthenticatedRequest): Principal {
  if (!request.principal) throw new Error('a caller asked of a route without an authenticated caller');
  return request.principal;
}

/** The caller of the request, as the AuthGuard established it. */
export const Caller = createParamDecorator((_: unknown, context: ExecutionContext): Principal =>
  callerOf(context.switchToHttp().getRequest<AuthenticatedRequest>()),
);

type RequestOrigin = Omit<CommandMetadata, 'now'>;

/** Who asked (the key id, never the key) and under which correlation id (the header, checked by the hardening). */
const RequestOrigin = createParamDecorator((_: unknown, context: ExecutionContext): RequestOrigin => {
  const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
  const correlationId = request.headers['x-correlation-id'];
  return { correlationId: typeof correlationId === 'string' ? correlationId : undefined, actor: callerOf(request).keyId };
});

/** Dates a request's origin by the service's clock. */
@Injectable()
class DatedByClock implements PipeTransform<RequestOrigin, CommandMetadata> {
  constructor(@Inject(CLOCK) private readonly clock: Clock) {}

  transform(origin: RequestOrigin): CommandMetadata {
    return { ...origin, now: this.clock.now() };
  }
}

/**
 * The metadata of the command a request issues: now by the service's clock, the request's correlation id and the
 * caller's key id as the actor.
 */
export const RequestMetadata = (): ParameterDecorator => RequestOrigin(undefined, DatedByClock);

/**
 * The global guard: every HTTP route needs `Authorization: Bearer <api key>` of an active key whose role the
 * route allows (`@Allow`; operators only when unsaid), except `@Public()` routes. 401 UNAUTHENTICATED without a
 * valid key, 403 FORBIDDEN for a role the route does not allow. Request/reply handlers (NATS) are not HTTP.
 * A presented key is looked up only while its client address has failed-authentication budget left
 * (FailedAuthLimiter); past it, 429 RATE_LIMITED with Retry-After, whatever the key.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(ApiKeyVerifier) private readonly verifier: ApiKeyVerifier,
    @Inject(FailedAuthLimiter) private readonly failures: FailedAuthLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = bearerToken(request.headers.authorization);
    if (token === null) throw unauthenticated();
    const admitted = this.failures.admit(request.ip);
    if (!admitted.allowed)
      throw tooManyRequests(
        context.switchToHttp().getResponse<Response>(),
        admitted.retryAfterSeconds,
        `Too many refused API keys from this address; retry after ${admitted.retryAfterSeconds} s.`,
      );
    const principal = await this.verify(token);
    if (!principal) {
      this.failures.refused(request.ip);
      throw unauthenticated();
    }
    const allowed = this.reflector.getAllAndOverride<ApiKeyRole[] | undefined>(ROLES, targets) ?? ['operator'];
    if (!allowed.includes(principal.role))
      throw new ForbiddenException({
        code: 'FORBIDDEN',
        message: `A key with the role "${principal.role}" may not do this; it needs one of: ${allowed.join(', ')}.`,
      });
    request.principal = principal;
    return true;
  }

  /** A key that cannot be checked now (PostgreSQL or pairing away) is refused with 503, never let through. */
  private async verify(token: string): Promise<Principal | null> {
    try {
      return await this.verifier.verify(token);
    } catch (error) {
      if (error instanceof DependencyUnavailableError) throw error;
      throw new ServiceUnavailableException({
        code: 'SERVICE_UNAVAILABLE',
        message: 'The API key cannot be checked now (PostgreSQL or NATS is unavailable); retry shortly.',
      });
    }
  }
}

function unauthenticated(): UnauthorizedException {
  return new UnauthorizedException({
    code: 'UNAUTHENTICATED',
    message: 'Send a valid API key as "Authorization: Bearer <api key>".',
  });
}
