import { Parser } from 'acorn';
import { describe, expect, it } from 'vitest';
import { buildClient, findForbiddenGlobals } from '../../scripts/build-client';
import { ABSENT_GLOBALS, loadBundle } from './bundle';

describe('the mini-program bundle (npm run build:client)', () => {
  it('is one ES2017 script holding only the client, src/shared, superjson and @trpc/client', async () => {
    const built = await buildClient({ outfile: null });
    expect(built.bytes).toBeGreaterThan(10_000);
    // Parses as ES2017: no optional chaining, `??`, object spread or other later syntax survived.
    expect(() => Parser.parse(built.code, { ecmaVersion: 2017, sourceType: 'script' })).not.toThrow();
    expect(() => Parser.parse('const a = b?.c;', { ecmaVersion: 2017, sourceType: 'script' })).toThrow();

    const outside = built.inputs.filter(
      (path) => !/^(src\/(client|shared)\/|node_modules\/(@trpc\/(client|server)|superjson|copy-anything|is-what)\/)/.test(path),
    );
    expect(outside).toEqual([]);
    expect(built.inputs).toContain('src/client/wxLink.ts');
    expect(built.inputs.some((p) => p.startsWith('node_modules/superjson/'))).toBe(true);
    // No server code came in through the AppRouter type, and no unused transport either.
    expect(built.inputs.some((p) => /wsLink|httpBatchStreamLink|src\/routers|src\/server/.test(p))).toBe(false);
  });

  it('reaches for no global a mini-program lacks', async () => {
    expect(await findForbiddenGlobals()).toEqual([]);
  });

  it('loads in a sandbox without fetch, AbortController, URL, TextEncoder, require, process or Buffer', async () => {
    const bundle = await loadBundle();
    for (const name of ABSENT_GLOBALS) expect(bundle.evaluate(`typeof ${name}`), name).toBe('undefined');
    expect(typeof bundle.exports.createScancodeClient).toBe('function');
    expect(typeof bundle.exports.wxLink).toBe('function');
    // The bundle's own AbortController, for `{ signal }` on calls.
    const ac = new bundle.exports.AbortController();
    let heard = 0;
    ac.signal.addEventListener('abort', () => heard++, { once: true });
    ac.abort();
    ac.abort();
    expect([ac.signal.aborted, heard, (ac.signal.reason as Error).name]).toEqual([true, 1, 'AbortError']);
  });

  it('says clearly when there is no wx', async () => {
    const bundle = await loadBundle();
    expect(() => bundle.exports.createScancodeClient({ url: 'https://example.invalid/trpc' })).toThrow(/no global `wx`/);
  });
});
