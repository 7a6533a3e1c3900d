import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { loggableUrl } from '../../src/http/access-log';
import { useTestApp } from '../helpers/app';

describe('invitation tokens and download links stay out of the log', () => {
  const t = useTestApp();

  it('masks tRPC inputs and /files/ tokens in logged URLs, keeping the batch flag', () => {
    expect(loggableUrl('/trpc/invite.preview?input=%7B%22token%22%3A%22abc%22%7D')).toBe('/trpc/invite.preview?input=[redacted]');
    expect(loggableUrl('/trpc/goods.scan,invite.preview?batch=1&input=xyz')).toBe(
      '/trpc/goods.scan,invite.preview?batch=1&input=[redacted]',
    );
    expect(loggableUrl('/files/SECRETTOKEN123?x=1')).toBe('/files/[redacted]?x=[redacted]');
    expect(loggableUrl('/healthz')).toBe('/healthz');
  });

  it('an invitation previewed and accepted over HTTP leaves no trace of its token in any log line', async () => {
    const owner = await t.newUser();
    const guest = await t.newUser();
    const [dir] = await owner.caller.directory.list();
    const invite = await owner.caller.invite.create({ directoryId: dir!.id, role: 'clerk' });
    const input = encodeURIComponent(JSON.stringify(superjson.serialize({ token: invite.token })));
    const preview = await t.app.inject({
      method: 'GET',
      url: `/trpc/invite.preview?input=${input}`,
      headers: { 'x-session-token': guest.token },
    });
    expect(preview.statusCode).toBe(200);
    const accept = await t.app.inject({
      method: 'POST',
      url: '/trpc/invite.accept',
      headers: { 'x-session-token': guest.token, 'content-type': 'application/json' },
      payload: JSON.stringify(superjson.serialize({ token: invite.token })),
    });
    expect(accept.statusCode).toBe(200);
    const logged = t.logLines.join('\n');
    expect(logged).toContain('/trpc/invite.preview?input=[redacted]');
    expect(logged).not.toContain(invite.token);
    expect(logged).not.toContain(encodeURIComponent(invite.token));
  });
});
