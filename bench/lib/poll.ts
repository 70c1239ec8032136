/** The `poll` mode's requests: submit a task to `inc`, then wait for it by id (two per task). */
import type autocannon from 'autocannon';

export const pollRequests = (
  headers: Record<string, string>,
  body: string,
): autocannon.Request[] => [
  {
    method: 'POST',
    path: '/functions/inc/tasks',
    headers,
    body,
    onResponse: (status, text, context) => {
      if (status === 202) context.id = (JSON.parse(text) as { id: string }).id;
    },
  },
  {
    method: 'GET',
    setupRequest: (request, context) => ({
      ...request,
      path: `/tasks/${context.id}?wait=5000`,
    }),
  },
];
