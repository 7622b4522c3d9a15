/**
 * The panel's signed-in sessions (src/master/panel/): whoever proved to be a user (master mode) or
 * the local caller (a proxy with a local token) gets a random session secret for their browser's
 * cookie; the store keeps only its digest. A session ends when it expires, when its user is
 * disabled, or on sign-out.
 */
import { SlapError } from '../../core/errors.ts';
import { accessTokenHash, createAccessToken } from '../../lib/access-token.ts';
import { LOCAL_CALLER, type Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';

/** How long a session lasts from sign-in. */
export const PANEL_SESSION_SECONDS = 12 * 3600;

export interface OpenedPanelSession {
  /** The cookie's value: shown once, never stored. */
  secret: string;
  /** Float seconds. */
  expiresAt: number;
}

/** Opens a session for a caller the transport authenticated (a user or the local caller). */
export async function openPanelSession(
  context: ServiceContext,
  input: { caller: Caller },
): Promise<OpenedPanelSession> {
  const { caller } = input;
  await context.authorize(caller, 'panel.sign_in', { kind: 'master' });
  if (caller.kind !== 'user' && caller.kind !== 'local')
    throw new SlapError('SLAP_ERR_FORBIDDEN', 'only a user may sign in to the panel');
  const secret = createAccessToken();
  const now = context.clock.now();
  const expiresAt = now + PANEL_SESSION_SECONDS;
  await context.store.write(async (repository) => {
    await repository.deleteExpiredPanelSessions(now);
    await repository.insertPanelSession({
      sessionHash: accessTokenHash(secret),
      user: caller.kind === 'user' ? caller.userId : '',
      createdAt: now,
      expiresAt,
    });
  });
  return { secret, expiresAt };
}

/** The caller a session secret stands for; undefined when it is unknown, expired or its user disabled. */
export async function panelSessionCaller(
  context: ServiceContext,
  input: { secret: string },
): Promise<Caller | undefined> {
  const now = context.clock.now();
  return context.store.read(async (repository) => {
    const session = await repository.getPanelSession(accessTokenHash(input.secret));
    if (session === undefined || session.expiresAt <= now) return undefined;
    if (session.user === '') return context.mode === 'proxy' ? LOCAL_CALLER : undefined;
    const user = await repository.getUser(session.user);
    if (user === undefined || user.disabled) return undefined;
    return { kind: 'user', userId: user.name, admin: user.admin };
  });
}

/** Ends a session (sign-out); an unknown secret is no error. */
export async function closePanelSession(context: ServiceContext, input: { secret: string }): Promise<void> {
  await context.store.write((repository) => repository.deletePanelSession(accessTokenHash(input.secret)));
}

/** Calls `listener` after each committed change (debounced by the caller); returns the unsubscribe function. */
export function watchMasterChanges(context: ServiceContext, input: { listener: () => void }): () => void {
  return context.store.onCommit(input.listener);
}
