import { describe, expect, it } from 'vitest';
import type { TaskRecord } from '../types.ts';
import { BackendListeners } from './listeners.ts';

const record: TaskRecord = { id: 'a', function: 'f', status: 'queued', submittedAt: 1 };

describe('BackendListeners', () => {
  it('Should tell every listener of its kind, logging one that throws and telling the rest', () => {
    const logged: string[] = [];
    const listeners = new BackendListeners((message) => logged.push(message));
    const heard: string[] = [];
    const bug = () => {
      throw new Error('listener bug');
    };
    listeners.onAvailable(bug);
    listeners.onAvailable((fn) => heard.push(`available ${fn}`));
    listeners.onCancel(bug);
    listeners.onCancel((id) => heard.push(`cancel ${id}`));
    listeners.subscribe(bug);
    listeners.subscribe((r) => heard.push(`change ${r.id}`));
    listeners.available('f');
    listeners.cancelled('a');
    listeners.changed(record);
    expect(heard).toEqual(['available f', 'cancel a', 'change a']);
    expect(logged).toEqual(Array(3).fill('a task backend listener threw: listener bug'));
  });

  it('Should stop telling a subscriber that unsubscribed, and everyone once cleared', () => {
    const listeners = new BackendListeners(() => {});
    const heard: string[] = [];
    const stop = listeners.subscribe((r) => heard.push(r.id));
    expect(listeners.subscribed).toBe(true);
    listeners.changed(record);
    stop();
    expect(listeners.subscribed).toBe(false);
    listeners.changed(record);
    listeners.onAvailable((fn) => heard.push(fn));
    listeners.clear();
    listeners.available('f');
    expect(heard).toEqual(['a']);
  });
});
