/**
 * Case 9, SSE fan-out: `readers` clients hold `GET /events?types=task` open while `tasks` tasks
 * are submitted and run (each makes three task events: queued, running, completed). The server
 * runs in its own process (bench/http/server.ts); the same tasks run once with no reader first,
 * so the server CPU per delivered event is the difference between the two runs over the events.
 * Usage: sse.ts <readers> <tasks>
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { emit, numberArg } from '../lib/emit.ts';
import { readListeningUrl } from '../lib/listening.ts';
import { stopAndReadCpuMs } from '../lib/server-cpu.ts';

const readers = numberArg(0, 50);
const tasks = numberArg(1, 10_000);
const SUBMITTERS = 20;

const startServer = async (): Promise<{ url: string; child: ChildProcess }> => {
  const script = fileURLToPath(new URL('../http/server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, 'ebbflow'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await readListeningUrl(child, /listening (\S+)/);
  return { url, child };
};

/** Counts a reader's events and the completions among them, without parsing each one. */
const read = async (url: string, signal: AbortSignal, counts: { events: number; done: number }) => {
  const response = await fetch(`${url}/events?types=task`, { signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let carry = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const text = carry + decoder.decode(value, { stream: true });
      counts.events += text.split('event: task').length - 1;
      counts.done += text.split('"status":"completed"').length - 1;
      // Keep a tail that may hold a split marker.
      carry = text.slice(-24);
      counts.events -= carry.split('event: task').length - 1;
      counts.done -= carry.split('"status":"completed"').length - 1;
    }
  } catch {
    // aborted at the end
  }
};

const run = async (withReaders: number) => {
  const { url, child } = await startServer();
  const exited = once(child, 'exit');
  const controller = new AbortController();
  const counts = Array.from({ length: withReaders }, () => ({ events: 0, done: 0 }));
  try {
    const reading = counts.map((c) => read(url, controller.signal, c));
    // Every reader is connected before the work starts.
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGUSR2');
    const started = performance.now();
    let next = 0;
    const body = JSON.stringify({ args: [1] });
    const submit = async () => {
      while (next < tasks) {
        next++;
        const res = await fetch(`${url}/functions/inc/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        if (res.status !== 202) throw new Error(`submit answered ${res.status}`);
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: SUBMITTERS }, submit));
    // Then wait for the work to end: every reader sees every completion (or the stats say so).
    const deadline = Date.now() + 120_000;
    for (;;) {
      const stats = (await (await fetch(`${url}/stats`)).json()) as {
        queueSize: number;
        activeTasks: number;
      };
      const read = counts.every((c) => c.done >= tasks);
      if (stats.queueSize === 0 && stats.activeTasks === 0 && read) break;
      if (Date.now() > deadline) throw new Error('the tasks or their events did not all arrive');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    const cpuMs = await stopAndReadCpuMs(child);
    controller.abort();
    await Promise.all(reading);
    return { seconds, cpuMs, events: counts.reduce((sum, c) => sum + c.events, 0) };
  } finally {
    controller.abort();
    child.kill('SIGTERM');
    await exited;
  }
};

const alone = await run(0);
const fanned = await run(readers);
emit({
  readers,
  tasks,
  eventsDelivered: fanned.events,
  eventsPerSec: fanned.events / fanned.seconds,
  tasksPerSecAlone: tasks / alone.seconds,
  tasksPerSecWithReaders: tasks / fanned.seconds,
  serverCpuMsAlone: alone.cpuMs,
  serverCpuMsWithReaders: fanned.cpuMs,
  // What one delivered event cost the server, over the same work without readers.
  serverCpuUsPerEvent: ((fanned.cpuMs - alone.cpuMs) * 1000) / fanned.events,
});
