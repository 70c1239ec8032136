/**
 * The task listing and replay (the contract's v2 "Retries, task listing and replay"):
 * `GET /tasks` answers the newest records first, filtered and paged; `POST /tasks/:id/retry`
 * runs a failed or cancelled task again as a new task.
 * @module
 */
import type { Hono } from 'hono';
import type { Runtime } from '../../runtime/index.ts';
import { ListQuery, parse, taskId } from '../schemas.ts';
import { refuseOtherMethods } from './other-methods.ts';

/** Each route of this file and the methods it answers; any other method gets 405. */
const ROUTES = { '/tasks': 'GET', '/tasks/:id/retry': 'POST' } as const;

export const taskRoutes = (app: Hono, runtime: Runtime): void => {
  app.get('/tasks', async (c) => {
    const query = parse(ListQuery, c.req.query(), 'invalid_query', 'query');
    return c.json(await runtime.list(query));
  });

  app.post('/tasks/:id/retry', async (c) => {
    const record = await runtime.retry(taskId(c.req.param('id')));
    return c.json(record, 202, { Location: `/tasks/${record.id}` });
  });

  refuseOtherMethods(app, ROUTES);
};
