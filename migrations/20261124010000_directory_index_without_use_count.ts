import type { Knex } from 'knex';

/*
 * Every stock change bumps directories.use_count. With use_count inside a secondary index, that
 * UPDATE rewrites an index entry too, and InnoDB could lock the secondary entry and the primary row
 * in opposite orders in two concurrent stock changes of one directory: a deadlock under load
 * (seen by `npm run bench`, row 5). directory.list sorts a user's few directories in memory anyway.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('directories', (t) => {
    t.index(['user_id', 'live'], 'directories_user_live_index');
  });
  await knex.schema.alterTable('directories', (t) => {
    t.dropIndex(['user_id', 'live', 'use_count'], 'directories_user_live_use_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('directories', (t) => {
    t.index(['user_id', 'live', 'use_count'], 'directories_user_live_use_index');
  });
  await knex.schema.alterTable('directories', (t) => {
    t.dropIndex(['user_id', 'live'], 'directories_user_live_index');
  });
}
