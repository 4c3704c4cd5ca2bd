/**
 * The profiling commands a bench child answers (`bench/profile.ts` sends them): V8's sampling CPU
 * profiler, and its sampling heap profiler counting what is collected too (what a request
 * allocates). Shared by the service and the peers, so that each can be profiled the same way.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

export function profilerCommands(): Record<string, (arg: unknown) => unknown> {
  let profiler: Session | undefined;

  /** The inspector session the CPU and heap profilers run in, connected. */
  const connect = (): Session => {
    profiler ??= new Session();
    profiler.connect();
    return profiler;
  };

  /** Ends the running profile (`stop` gives it back) and writes it to `path` as JSON. */
  const save = async (path: unknown, stop: (session: Session) => Promise<{ profile: unknown }>) => {
    if (profiler === undefined) throw new Error('no profile running');
    const { profile } = await stop(profiler);
    await writeFile(String(path), JSON.stringify(profile));
    profiler.disconnect();
    return true;
  };

  return {
    profileStart: async () => {
      const session = connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.start');
      return true;
    },
    /** Stops it and writes the `.cpuprofile` to the path given. */
    profileStop: (path) => save(path, (session) => session.post('Profiler.stop')),
    /**
     * With `promoted`, what young-generation collections freed leaves the profile: what stays is
     * what outlived them (copied, then promoted to the old generation), dead since or not; the
     * scavenges' copying work and the old generation's growth.
     */
    heapStart: async (which) => {
      const session = connect();
      const young = which !== 'promoted';
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: young,
      });
      return true;
    },
    /** Stops it and writes the `.heapprofile` to the path given. */
    heapStop: (path) => save(path, (session) => session.post('HeapProfiler.stopSampling')),
  };
}
