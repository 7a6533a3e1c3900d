import type { Knex } from 'knex';

/*
 * Goods details (v2): a unit, a price in fen and a low-stock threshold. Prices are integers of fen,
 * never floats. A goods is low when min_quantity is set and quantity <= min_quantity; the index on
 * (directory_id, min_quantity, quantity) lets the low-stock queries visit only the goods of a
 * warehouse that have a threshold and test the comparison inside the index, instead of reading
 * every goods of the warehouse.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('goods', (t) => {
    t.string('unit', 10).notNullable().defaultTo('');
    t.integer('price').nullable();
    t.integer('min_quantity').nullable();
    t.index(['directory_id', 'min_quantity', 'quantity'], 'goods_directory_low_stock_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('goods', (t) => {
    t.dropIndex(['directory_id', 'min_quantity', 'quantity'], 'goods_directory_low_stock_index');
  });
  await knex.schema.alterTable('goods', (t) => {
    t.dropColumn('min_quantity');
    t.dropColumn('price');
    t.dropColumn('unit');
  });
}
