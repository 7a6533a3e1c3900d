/** Where the MySQL tests run; each test file gets its own database named after this one. */
export const DEFAULT_TEST_DATABASE_URL = 'mysql://root@127.0.0.1:3306/scancode_test';

export function testDatabaseUrl(): string {
  return process.env.TEST_DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
}

export const MYSQL_START_HINT =
  'Start MariaDB with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd ' +
  '(or point TEST_DATABASE_URL at a reachable MySQL/MariaDB).';
