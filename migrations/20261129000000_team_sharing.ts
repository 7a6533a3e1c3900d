import type { Knex } from 'knex';

/*
 * Warehouses shared by a team (v2).
 *
 * - directory_members: who belongs to a warehouse and with which role. Every existing warehouse,
 *   live or deleted, gets its owner (directories.user_id) as the `owner` member, so that v1 data
 *   keeps working and an owner still sees the history of a warehouse they deleted.
 *   directories.user_id stays the owner (transferOwnership moves it); goods.user_id becomes "who
 *   created the row" and no longer scopes anything.
 * - invites: a hash of each invitation token, never the token.
 * - logs: user_id was the user a v1 entry belonged to, who was always the one who acted; it is the
 *   actor from now on (existing rows keep their user, as the issue asks). New columns hold the
 *   actor's nickname at the time, a note (an adjustment's reason, an import's file name), the other
 *   warehouse of a transfer and the member a member.* entry is about. A history query now starts
 *   from a warehouse, hence the (directory_id, id) index.
 */

function mysqlTable(db: Knex, t: Knex.CreateTableBuilder): void {
  if (db.client.config.client === 'mysql2') {
    t.engine('InnoDB');
    t.charset('utf8mb4');
    t.collate('utf8mb4_unicode_ci');
  }
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('directory_members', (t) => {
    mysqlTable(knex, t);
    t.integer('directory_id').unsigned().notNullable().references('id').inTable('directories').onDelete('CASCADE');
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('role', 16).notNullable();
    t.datetime('joined_at', { precision: 3 }).notNullable();
    t.primary(['directory_id', 'user_id']);
    t.index(['user_id', 'directory_id'], 'directory_members_user_directory_index');
  });

  await knex('directory_members').insert(
    knex('directories').select({ directory_id: 'id', user_id: 'user_id', role: knex.raw('?', ['owner']), joined_at: 'created_at' }),
  );

  await knex.schema.createTable('invites', (t) => {
    mysqlTable(knex, t);
    t.increments('id').primary();
    t.integer('directory_id').unsigned().notNullable().references('id').inTable('directories').onDelete('CASCADE');
    t.string('role', 16).notNullable();
    // SHA-256 of the token, hex.
    t.string('token_hash', 64).notNullable().collate('utf8mb4_bin');
    t.integer('created_by').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('expires_at', { precision: 3 }).notNullable();
    t.integer('max_uses').unsigned().notNullable();
    t.integer('uses').unsigned().notNullable().defaultTo(0);
    t.datetime('revoked_at', { precision: 3 }).nullable();
    t.unique(['token_hash'], { indexName: 'invites_token_hash_unique' });
    t.index(['directory_id', 'id'], 'invites_directory_id_index');
  });

  await knex.schema.alterTable('logs', (t) => {
    t.string('actor_name', 100).nullable();
    t.string('note', 200).nullable();
    t.integer('counterpart_directory_id').unsigned().nullable();
    t.string('counterpart_directory_name', 100).nullable();
    t.integer('target_user_id').unsigned().nullable();
    t.index(['directory_id', 'id'], 'logs_directory_id_index');
  });
  // The nickname each v1 entry's user has now is the best snapshot there is.
  await knex('logs').update({ actor_name: knex('users').select('nickname').where('users.id', knex.ref('logs.user_id')) });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('logs', (t) => {
    t.dropIndex(['directory_id', 'id'], 'logs_directory_id_index');
  });
  await knex.schema.alterTable('logs', (t) => {
    t.dropColumn('target_user_id');
    t.dropColumn('counterpart_directory_name');
    t.dropColumn('counterpart_directory_id');
    t.dropColumn('note');
    t.dropColumn('actor_name');
  });
  await knex.schema.dropTableIfExists('invites');
  await knex.schema.dropTableIfExists('directory_members');
}
