import type { Knex } from 'knex';

/*
 * The whole schema of the first release. It runs unchanged on MySQL/MariaDB and SQLite.
 *
 * - Timestamps are DATETIME(3) written by the application in UTC (never DB defaults, which differ
 *   between the two databases); keyset pagination orders by id, which is monotonic.
 * - Directories and goods are soft-deleted so that history keeps pointing at real ids. `live` is 1
 *   for a live row and NULL for a deleted one: unique keys that include it apply to live rows only,
 *   because both databases let NULLs repeat in a unique index. MySQL has no partial indexes.
 * - Codes, names that must be unique and tokens use a binary collation on MySQL so that uniqueness
 *   means the same bytes, as on SQLite (utf8mb4_unicode_ci would call "A" and "a", or two emoji, equal).
 */

function mysqlTable(db: Knex, t: Knex.CreateTableBuilder): void {
  if (db.client.config.client === 'mysql2') {
    t.engine('InnoDB');
    t.charset('utf8mb4');
    t.collate('utf8mb4_unicode_ci');
  }
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    mysqlTable(knex, t);
    t.increments('id').primary();
    t.string('openid', 128).notNullable().collate('utf8mb4_bin');
    t.string('unionid', 128).nullable().collate('utf8mb4_bin');
    // WeChat's session_key, kept to decrypt later encryptedData; never leaves the server.
    t.string('session_key', 128).nullable();
    t.string('nickname', 100).nullable();
    t.string('avatar_url', 1024).nullable();
    t.tinyint('gender').notNullable().defaultTo(0);
    t.string('city', 100).nullable();
    t.string('province', 100).nullable();
    t.string('country', 100).nullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('updated_at', { precision: 3 }).notNullable();
    t.unique(['openid'], { indexName: 'users_openid_unique' });
    t.index(['unionid'], 'users_unionid_index');
  });

  await knex.schema.createTable('sessions', (t) => {
    mysqlTable(knex, t);
    t.bigIncrements('id').primary();
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    // SHA-256 of the token, hex: the token itself is never stored.
    t.string('token_hash', 64).notNullable().collate('utf8mb4_bin');
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('expires_at', { precision: 3 }).notNullable();
    t.datetime('last_seen_at', { precision: 3 }).notNullable();
    t.datetime('revoked_at', { precision: 3 }).nullable();
    t.unique(['token_hash'], { indexName: 'sessions_token_hash_unique' });
    t.index(['user_id'], 'sessions_user_id_index');
  });

  await knex.schema.createTable('directories', (t) => {
    mysqlTable(knex, t);
    t.increments('id').primary();
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('name', 100).notNullable().collate('utf8mb4_bin');
    t.integer('use_count').unsigned().notNullable().defaultTo(0);
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('last_active_at', { precision: 3 }).notNullable();
    t.boolean('live').nullable().defaultTo(true);
    t.datetime('deleted_at', { precision: 3 }).nullable();
    t.unique(['user_id', 'name', 'live'], { indexName: 'directories_user_live_name_unique' });
    t.index(['user_id', 'live', 'use_count'], 'directories_user_live_use_index');
  });

  await knex.schema.createTable('goods', (t) => {
    mysqlTable(knex, t);
    t.increments('id').primary();
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.integer('directory_id').unsigned().notNullable().references('id').inTable('directories').onDelete('CASCADE');
    t.string('code', 255).notNullable().collate('utf8mb4_bin');
    t.string('name', 100).notNullable();
    t.string('remarks', 1000).notNullable().defaultTo('');
    t.integer('quantity').unsigned().notNullable().defaultTo(0);
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('last_active_at', { precision: 3 }).notNullable();
    t.boolean('live').nullable().defaultTo(true);
    t.datetime('deleted_at', { precision: 3 }).nullable();
    t.check('?? >= 0', ['quantity'], 'goods_quantity_nonnegative');
    // Serves goods.scan / stockIn / stockOut (directory + code) and makes one live row per code.
    t.unique(['directory_id', 'code', 'live'], { indexName: 'goods_directory_code_live_unique' });
    t.index(['directory_id', 'live', 'id'], 'goods_directory_live_id_index');
    t.index(['user_id', 'id'], 'goods_user_id_index');
  });

  await knex.schema.createTable('logs', (t) => {
    mysqlTable(knex, t);
    t.bigIncrements('id').primary();
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('type', 32).notNullable();
    // No foreign keys on purpose: history outlives the rows it talks about. Names are snapshots.
    t.integer('directory_id').unsigned().nullable();
    t.string('directory_name', 100).nullable();
    t.integer('goods_id').unsigned().nullable();
    t.string('goods_name', 100).nullable();
    t.integer('delta').nullable();
    t.integer('quantity_after').nullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.index(['user_id', 'id'], 'logs_user_id_index');
    t.index(['user_id', 'directory_id', 'id'], 'logs_user_directory_id_index');
    t.index(['user_id', 'goods_id', 'id'], 'logs_user_goods_id_index');
    t.index(['user_id', 'type', 'id'], 'logs_user_type_id_index');
  });

  // Idempotency of stockIn/stockOut: one row per (user, requestId) holding the first outcome.
  await knex.schema.createTable('request_results', (t) => {
    mysqlTable(knex, t);
    t.bigIncrements('id').primary();
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('request_id', 64).notNullable().collate('utf8mb4_bin');
    t.string('procedure', 64).notNullable();
    // SHA-256 of the procedure and its input, to refuse a reused requestId with other input.
    t.string('fingerprint', 64).notNullable();
    t.text('response').notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.unique(['user_id', 'request_id'], { indexName: 'request_results_user_request_unique' });
    t.index(['created_at'], 'request_results_created_at_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('request_results');
  await knex.schema.dropTableIfExists('logs');
  await knex.schema.dropTableIfExists('goods');
  await knex.schema.dropTableIfExists('directories');
  await knex.schema.dropTableIfExists('sessions');
  await knex.schema.dropTableIfExists('users');
}
