import type { Operation, TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import { errorCode, toClientError } from './errors';

export interface SessionLinkOptions {
  /** Gets a fresh session and stores it (so the link below sends it). */
  login: () => Promise<unknown>;
  /** Whether a token is stored; without one the call logs in first instead of collecting a 401. */
  hasToken: () => boolean;
  /** Calls that never trigger a login (the login itself). Default: `auth.login`. */
  isLoginCall?: (op: Operation) => boolean;
  /** Calls that end the session: never preceded by a login. Default: `auth.logout`. */
  isLogoutCall?: (op: Operation) => boolean;
  /** Called after a logout call (or when it finds the session already gone), to forget the token. */
  onLogout?: () => void;
  /** The login gate to share with calls outside tRPC (file uploads); default: one of its own over `login`. */
  gate?: LoginGate;
}

/**
 * Keeps the caller logged in: a call refused with UNAUTHORIZED logs in and is sent once more.
 * Every call waiting at the same time shares one login, so five parallel calls with an expired
 * token cost one `wx.login`, not five (a code is single-use, and WeChat rate-limits logins).
 */
/**
 * One login at a time, shared by every call that needs it: the tRPC calls (sessionLink) and the
 * file transfers that travel outside tRPC (uploadImport), so a 401 on each of them at once still
 * costs a single `wx.login`.
 */
export interface LoginGate {
  /** Bumped by every completed login: a 401 for a request sent before it needs a retry, not a new login. */
  generation(): number;
  /** Logs in, unless a login completed since `seenGeneration` (then resolves at once); joins one in flight. */
  ensure(seenGeneration: number): Promise<void>;
}

export function createLoginGate(login: () => Promise<unknown>): LoginGate {
  let generation = 0;
  let inFlight: Promise<void> | null = null;
  return {
    generation: () => generation,
    ensure(seenGeneration) {
      if (generation !== seenGeneration) return Promise.resolve();
      if (!inFlight) {
        const clear = () => {
          inFlight = null;
        };
        inFlight = Promise.resolve()
          .then(login)
          .then(() => {
            generation++;
          });
        // `finally` is ES2018; mini-program runtimes are only guaranteed ES2017.
        inFlight.then(clear, clear);
      }
      return inFlight;
    },
  };
}

export function sessionLink<TRouter extends AnyRouter = AnyRouter>(opts: SessionLinkOptions): TRPCLink<TRouter> {
  const isLoginCall = opts.isLoginCall ?? ((op: Operation) => op.path === 'auth.login');
  const isLogoutCall = opts.isLogoutCall ?? ((op: Operation) => op.path === 'auth.logout');
  const gate = opts.gate ?? createLoginGate(opts.login);
  const ensureLogin = (seen: number) => gate.ensure(seen);

  return () =>
    ({ op, next }) =>
      observable((observer) => {
        if (isLoginCall(op)) return next(op).subscribe(observer);
        if (isLogoutCall(op)) {
          // Logging in only to log out makes no sense: pass it through, then forget the token
          // (also when the server says it was already invalid).
          const sub = next(op).subscribe({
            next: (value) => observer.next(value),
            complete: () => {
              opts.onLogout?.();
              observer.complete();
            },
            error: (err) => {
              if (errorCode(err) === 'UNAUTHORIZED') opts.onLogout?.();
              observer.error(err);
            },
          });
          return () => sub.unsubscribe();
        }

        let closed = false;
        let loggedIn = false;
        let current: Unsubscribable | null = null;

        const fail = (err: unknown) => {
          if (!closed) observer.error(toClientError(err));
        };

        const login = (seen: number) => {
          loggedIn = true;
          ensureLogin(seen).then(() => {
            if (!closed) run();
          }, fail);
        };

        const run = () => {
          const seen = gate.generation();
          current = next(op).subscribe({
            next: (value) => observer.next(value),
            complete: () => observer.complete(),
            error: (err) => {
              if (!loggedIn && errorCode(err) === 'UNAUTHORIZED') login(seen);
              else observer.error(err);
            },
          });
        };

        if (opts.hasToken()) run();
        else login(gate.generation());

        return () => {
          closed = true;
          current?.unsubscribe();
        };
      });
}
