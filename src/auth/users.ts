import { toDate, type Queryable } from '../db/knex';
import { recordHistory } from '../history/history';

export const DEFAULT_DIRECTORY_NAME = '默认';

/** The public shape of a user (API.md `User`): never carries openid or session_key. */
export interface User {
  id: number;
  nickname: string | null;
  avatarUrl: string | null;
  gender: 0 | 1 | 2;
  city: string | null;
  province: string | null;
  country: string | null;
  createdAt: Date;
}

export interface Profile {
  nickname?: string | null;
  avatarUrl?: string | null;
  gender?: 0 | 1 | 2;
  city?: string | null;
  province?: string | null;
  country?: string | null;
}

export interface UserRow {
  id: number;
  openid: string;
  unionid: string | null;
  session_key: string | null;
  nickname: string | null;
  avatar_url: string | null;
  gender: number;
  city: string | null;
  province: string | null;
  country: string | null;
  created_at: Date | number;
  updated_at: Date | number;
}

/** Columns `toUser` needs: selecting only these keeps session_key out of the process's hands. */
export const USER_PUBLIC_COLUMNS = ['id', 'nickname', 'avatar_url', 'gender', 'city', 'province', 'country', 'created_at'];

function toGender(value: number): 0 | 1 | 2 {
  return value === 1 || value === 2 ? value : 0;
}

export function toUser(
  row: Pick<UserRow, 'id' | 'nickname' | 'avatar_url' | 'gender' | 'city' | 'province' | 'country' | 'created_at'>,
): User {
  return {
    id: row.id,
    nickname: row.nickname,
    avatarUrl: row.avatar_url,
    gender: toGender(row.gender),
    city: row.city,
    province: row.province,
    country: row.country,
    createdAt: toDate(row.created_at),
  };
}

export function profileColumns(profile: Profile): Partial<UserRow> {
  const cols: Partial<UserRow> = {};
  if (profile.nickname !== undefined) cols.nickname = profile.nickname;
  if (profile.avatarUrl !== undefined) cols.avatar_url = profile.avatarUrl;
  if (profile.gender !== undefined) cols.gender = profile.gender;
  if (profile.city !== undefined) cols.city = profile.city;
  if (profile.province !== undefined) cols.province = profile.province;
  if (profile.country !== undefined) cols.country = profile.country;
  return cols;
}

export async function findUserById(db: Queryable, id: number): Promise<User | null> {
  const row = await db('users').select(USER_PUBLIC_COLUMNS).where({ id }).first();
  return row ? toUser(row) : null;
}

/**
 * Inserts a user and their first warehouse, `默认`, with its history row. Call inside a
 * transaction: a user without a directory must never be visible.
 */
export async function insertUserWithDefaultDirectory(
  trx: Queryable,
  fields: { openid: string; unionid?: string | null; sessionKey?: string | null; profile?: Profile },
  now: Date,
): Promise<number> {
  const [userId] = (await trx('users').insert({
    openid: fields.openid,
    unionid: fields.unionid ?? null,
    session_key: fields.sessionKey ?? null,
    gender: 0,
    ...profileColumns(fields.profile ?? {}),
    created_at: now,
    updated_at: now,
  })) as number[];
  if (userId === undefined) throw new Error('insert into users returned no id');
  const [directoryId] = (await trx('directories').insert({
    user_id: userId,
    name: DEFAULT_DIRECTORY_NAME,
    use_count: 0,
    created_at: now,
    last_active_at: now,
    live: true,
  })) as number[];
  await recordHistory(trx, {
    userId,
    type: 'directory.create',
    directoryId: directoryId ?? null,
    directoryName: DEFAULT_DIRECTORY_NAME,
    createdAt: now,
  });
  return userId;
}
