/**
 * The server's tokens on every host, as the README starts it: a token no Bearer header could
 * carry stops the server at start (exit 2, naming the variable, never the token), and a token
 * never reaches a function's HTTP handler, the admin token included when it is the only one set.
 */
import { expect, it } from 'vitest';
import { describeEachRuntime, launch, serverForSuite } from './support/server.ts';

const FUNCTIONS = 'test/fixtures/conformance';
const ADMIN = 'admin-token-of-the-server';

describeEachRuntime('tokens', (runtime) => {
  it('Should refuse at start a token with a space, exit 2, naming the variable and not the token', async () => {
    const started = launch(runtime, {
      EBBFLOW_FUNCTIONS: FUNCTIONS,
      EBBFLOW_ADMIN_TOKEN: 'open sesame',
    });
    expect(await started.exited).toBe(2);
    expect(started.stderr()).toContain('EBBFLOW_ADMIN_TOKEN has a space at character 5');
    expect(started.output()).not.toContain('sesame');
    expect(started.output()).not.toContain('listening on');
  });

  const suite = serverForSuite(runtime, {
    EBBFLOW_FUNCTIONS: FUNCTIONS,
    EBBFLOW_MIN_WORKERS: '0',
    EBBFLOW_ADMIN_TOKEN: ADMIN,
  });

  it('Should never hand a handler the admin token, when it is the only token set', async () => {
    for (const authorization of [`Bearer ${ADMIN}`, `bearer  ${ADMIN}`, 'Bearer another']) {
      const res = await fetch(`${suite.server.url}/fn/mirror/x`, {
        headers: { Authorization: authorization },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ authorization: null });
    }
    // Without EBBFLOW_TOKEN the other routes stay open, as documented.
    expect((await fetch(`${suite.server.url}/functions/mirror`)).status).toBe(200);
  });
});
