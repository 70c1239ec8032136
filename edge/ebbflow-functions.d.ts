/** The module the build generates (`edge/build.ts`): each function compiled, and the isolates' main. */
declare module 'ebbflow:functions' {
  const bundle: {
    functions: Array<{
      name: string;
      js: string;
      sha256: string;
      codeSha256: string;
      error?: string;
      language: 'ts' | 'js';
      bytes: number;
    }>;
    warnings: string[];
    /** edge/isolate/main.ts as JavaScript: the module every function's isolate runs first. */
    isolate: string;
  };
  export default bundle;
}

declare module 'cloudflare:workers' {
  import type { CloudflareWorkersModule } from '@cloudflare/workers-types/latest/index.ts';
  export const DurableObject: typeof CloudflareWorkersModule.DurableObject;
  export type DurableObject<Env = unknown> = CloudflareWorkersModule.DurableObject<Env>;
  export const WorkerEntrypoint: typeof CloudflareWorkersModule.WorkerEntrypoint;
  export type WorkerEntrypoint<
    Env = unknown,
    Props = unknown,
  > = CloudflareWorkersModule.WorkerEntrypoint<Env, Props>;
}
