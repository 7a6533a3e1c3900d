import type { Knex } from 'knex';

/*
 * Stocktakes (盘点, v2).
 *
 * - stocktakes: one row per count of a warehouse. `open_directory_id` holds the warehouse's id while
 *   the stocktake is open and NULL once it is applied or cancelled: its unique key lets at most one
 *   open stocktake exist per warehouse on both databases (NULLs repeat in a unique index, and MySQL
 *   has no partial indexes). line_count / counted_count are frozen when it closes; while it is open
 *   they are computed from the lines and the live goods.
 * - stocktake_lines: one row per counted code. A line is keyed by code, not by goods id, so a code
 *   that is not in the warehouse yet can be counted (and is created on completion), and concurrent
 *   counts of one code meet on the unique key (stocktake_id, code), where an `add` is one
 *   INSERT … ON CONFLICT / ON DUPLICATE KEY UPDATE counted = counted + ?. `expected` is the quantity
 *   on hand when the line was last counted: on completion the goods get counted + (quantity now −
 *   expected), i.e. the count plus whatever was logged since.
 */

function mysqlTable(db: Knex, t: Knex.CreateTableBuilder): void {
  if (db.client.config.client === 'mysql2') {
    t.engine('InnoDB');
    t.charset('utf8mb4');
    t.collate('utf8mb4_unicode_ci');
  }
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('stocktakes', (t) => {
    mysqlTable(knex, t);
    t.increments('id').primary();
    t.integer('directory_id').unsigned().notNullable().references('id').inTable('directories').onDelete('CASCADE');
    t.integer('open_directory_id').unsigned().nullable();
    t.string('status', 16).notNullable();
    t.string('note', 200).nullable();
    // No foreign key: a stocktake outlives the membership of whoever started it.
    t.integer('started_by').unsigned().notNullable();
    t.datetime('started_at', { precision: 3 }).notNullable();
    t.datetime('finished_at', { precision: 3 }).nullable();
    t.integer('line_count').unsigned().nullable();
    t.integer('counted_count').unsigned().nullable();
    t.unique(['open_directory_id'], { indexName: 'stocktakes_open_directory_unique' });
    t.index(['directory_id', 'id'], 'stocktakes_directory_id_index');
  });

  await knex.schema.createTable('stocktake_lines', (t) => {
    mysqlTable(knex, t);
    t.increments('id').primary();
    t.integer('stocktake_id').unsigned().notNullable().references('id').inTable('stocktakes').onDelete('CASCADE');
    t.string('code', 255).notNullable().collate('utf8mb4_bin');
    t.integer('counted').unsigned().notNullable();
    t.integer('expected').unsigned().notNullable();
    t.datetime('counted_at', { precision: 3 }).notNullable();
    t.integer('counted_by').unsigned().notNullable();
    t.unique(['stocktake_id', 'code'], { indexName: 'stocktake_lines_stocktake_code_unique' });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('stocktake_lines');
  await knex.schema.dropTableIfExists('stocktakes');
}
