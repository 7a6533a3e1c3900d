import type { FastifyBaseLogger } from 'fastify';
import { isDevLogin, type Config } from '../config';
import { isRetryableTxError, isUniqueViolation, type Db } from '../db/knex';
import { inTransaction, type Tx } from '../db/tx';
import { decryptUserData, type DecryptedUserData } from './decrypt';
import { createSession } from './sessions';
import { insertUserWithDefaultDirectory, profileColumns, toUser, USER_PUBLIC_COLUMNS, type Profile, type User } from './users';
import { jscode2session, type WechatIdentity } from './wechat';

export interface LoginInput {
  code: string;
  encryptedData?: string;
  iv?: string;
}

export interface LoginResult {
  token: string;
  expiresAt: Date;
  isNew: boolean;
  user: User;
}

export interface LoginDeps {
  db: Db;
  config: Config;
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>;
  now: () => Date;
}

/** Who is logging in, before the database is touched. */
interface Identity {
  openid: string;
  unionid: string | null;
  sessionKey: string | null;
}

/**
 * A first login racing another first login of the same openid loses on the unique openid and
 * starts over, then finds the winner's user. Deadlock victims start over too.
 */
const MAX_ATTEMPTS = 4;

/** Characters, not UTF-16 units: the columns count characters and a cut must not split an emoji. */
function profileText(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed ? Array.from(trimmed).slice(0, max).join('') : undefined;
}

/** The profile fields of decrypted user info; blanks leave what we have alone. */
export function profileFromUserData(data: DecryptedUserData): Profile {
  const profile: Profile = {};
  const nickname = profileText(data.nickName, 100);
  if (nickname !== undefined) profile.nickname = nickname;
  const avatarUrl = profileText(data.avatarUrl, 1024);
  if (avatarUrl !== undefined && /^https?:\/\//i.test(avatarUrl)) profile.avatarUrl = avatarUrl;
  if (data.gender === 0 || data.gender === 1 || data.gender === 2) profile.gender = data.gender;
  const city = profileText(data.city, 100);
  if (city !== undefined) profile.city = city;
  const province = profileText(data.province, 100);
  if (province !== undefined) profile.province = province;
  const country = profileText(data.country, 100);
  if (country !== undefined) profile.country = country;
  return profile;
}

async function identify(deps: LoginDeps, code: string): Promise<WechatIdentity | Identity> {
  const { wechat } = deps.config;
  if (isDevLogin(deps.config) || !wechat.appId || !wechat.secret) {
    return { openid: `dev-${code}`, unionid: null, sessionKey: null };
  }
  return jscode2session({ ...wechat, appId: wechat.appId, secret: wechat.secret }, code, deps.log);
}

async function findOrCreateUser(trx: Tx, identity: Identity, profile: Profile, now: Date): Promise<{ userId: number; isNew: boolean }> {
  const existing = (await trx('users').select('id').where({ openid: identity.openid }).first()) as { id: number } | undefined;
  if (!existing) {
    const userId = await insertUserWithDefaultDirectory(
      trx,
      { openid: identity.openid, unionid: identity.unionid, sessionKey: identity.sessionKey, profile },
      now,
    );
    return { userId, isNew: true };
  }
  await trx('users')
    .where({ id: existing.id })
    .update({
      // Each login has a fresh session_key; later encryptedData is encrypted with the newest one.
      ...(identity.sessionKey !== null ? { session_key: identity.sessionKey } : {}),
      ...(identity.unionid !== null ? { unionid: identity.unionid } : {}),
      ...profileColumns(profile),
      updated_at: now,
    });
  return { userId: existing.id, isNew: false };
}

/**
 * auth.login: exchanges the code (or takes the development shortcut), checks and decrypts the
 * optional user info, then finds or creates the user and issues a session, all in one transaction
 * so that a failed login leaves nothing behind.
 */
export async function login(deps: LoginDeps, input: LoginInput): Promise<LoginResult> {
  const found = await identify(deps, input.code);
  const identity: Identity = { openid: found.openid, unionid: found.unionid, sessionKey: found.sessionKey };

  let profile: Profile = {};
  if (input.encryptedData !== undefined && input.iv !== undefined && identity.sessionKey !== null) {
    const data = decryptUserData({
      sessionKey: identity.sessionKey,
      encryptedData: input.encryptedData,
      iv: input.iv,
      appId: deps.config.wechat.appId ?? '',
      openid: identity.openid,
    });
    profile = profileFromUserData(data);
    if (identity.unionid === null) identity.unionid = profileText(data.unionId, 128) ?? null;
  }

  const now = deps.now();
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await inTransaction(deps.db, async (trx) => {
        const { userId, isNew } = await findOrCreateUser(trx, identity, profile, now);
        const session = await createSession(trx, userId, deps.config.sessionTtlDays, now);
        const row = await trx('users').select(USER_PUBLIC_COLUMNS).where({ id: userId }).first();
        return { ...session, isNew, user: toUser(row) };
      });
      deps.log.info({ userId: result.user.id, isNew: result.isNew }, 'user logged in');
      return result;
    } catch (err) {
      if (attempt < MAX_ATTEMPTS && (isUniqueViolation(err) || isRetryableTxError(err))) {
        deps.log.info({ attempt }, 'login raced another login of the same user; starting over');
        continue;
      }
      throw err;
    }
  }
}
