/** Waits `ms` and returns it: a task that holds a worker without using the CPU (scaling case). */
export const config = { maxQueue: 100_000 };

export default async (ms: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
};
