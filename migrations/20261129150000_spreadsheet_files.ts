import type { Knex } from 'knex';

/*
 * Spreadsheets in and out (v2). Everything lives in the database so that any node answers: an export
 * link made on one node downloads from another, an import read on one is confirmed on another.
 *
 * - export_links: a download link's token is shown once; only its SHA-256 is kept. The link records
 *   what to export (kind, warehouse or stocktake, time range, format, time zone) and who asked, so
 *   that opening it re-checks that person's membership.
 * - imports / import_rows: a file read and checked at upload, one row per sheet row with its planned
 *   action, so a preview can page through them and the confirm applies them later.
 */

function mysqlTable(db: Knex, t: Knex.CreateTableBuilder): void {
  if (db.client.config.client === 'mysql2') {
    t.engine('InnoDB');
    t.charset('utf8mb4');
    t.collate('utf8mb4_unicode_ci');
  }
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('export_links', (t) => {
    mysqlTable(knex, t);
    t.bigIncrements('id').primary();
    t.string('token_hash', 64).notNullable().collate('utf8mb4_bin');
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('kind', 16).notNullable();
    t.string('format', 8).notNullable();
    // No foreign keys: a link to a warehouse deleted since simply answers 404.
    t.integer('directory_id').unsigned().nullable();
    t.integer('stocktake_id').unsigned().nullable();
    t.datetime('from_at', { precision: 3 }).nullable();
    t.datetime('to_at', { precision: 3 }).nullable();
    t.string('time_zone', 64).notNullable();
    t.string('filename', 255).notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('expires_at', { precision: 3 }).notNullable();
    t.unique(['token_hash'], { indexName: 'export_links_token_hash_unique' });
    t.index(['expires_at'], 'export_links_expires_at_index');
  });

  await knex.schema.createTable('imports', (t) => {
    mysqlTable(knex, t);
    t.increments('id').primary();
    t.integer('directory_id').unsigned().notNullable().references('id').inTable('directories').onDelete('CASCADE');
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('filename', 255).notNullable();
    // 'ready' until confirmed, then 'applied'.
    t.string('status', 16).notNullable();
    // The goods fields the sheet has a column for, comma-separated: an absent column keeps the field as it is.
    t.string('columns', 200).notNullable();
    t.integer('row_count').unsigned().notNullable();
    t.integer('create_count').unsigned().notNullable();
    t.integer('update_count').unsigned().notNullable();
    t.integer('unchanged_count').unsigned().notNullable();
    t.integer('error_count').unsigned().notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable();
    t.datetime('applied_at', { precision: 3 }).nullable();
    t.index(['directory_id', 'id'], 'imports_directory_id_index');
  });

  await knex.schema.createTable('import_rows', (t) => {
    mysqlTable(knex, t);
    t.bigIncrements('id').primary();
    t.integer('import_id').unsigned().notNullable().references('id').inTable('imports').onDelete('CASCADE');
    // The sheet's own row number (the header is row 1).
    t.integer('row_number').unsigned().notNullable();
    // Values as read; an error row keeps what it could (cut to the column's size). NULL = not given.
    t.string('code', 255).nullable().collate('utf8mb4_bin');
    t.string('name', 100).nullable();
    t.integer('quantity').nullable();
    t.string('unit', 10).nullable();
    t.integer('price').nullable();
    t.integer('min_quantity').nullable();
    t.string('remarks', 1000).nullable();
    t.string('action', 16).notNullable();
    t.string('message', 300).nullable();
    t.index(['import_id', 'action', 'id'], 'import_rows_import_action_index');
    t.index(['import_id', 'id'], 'import_rows_import_id_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('import_rows');
  await knex.schema.dropTableIfExists('imports');
  await knex.schema.dropTableIfExists('export_links');
}
